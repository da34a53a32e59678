import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid`: the one way tests start
/// processes (`ProcessRunner`, `CLIRunner` and the crash tests are built on it). Unlike
/// Foundation's `Process`, nothing here depends on a descriptor the child or a sibling might
/// inherit: every pipe is made close-on-exec atomically (`pipe2`), so a server another test starts
/// at the same moment cannot hold one of its ends open, and the child is reaped with `waitpid` on
/// its own pid, so a killed child is never left a zombie that a wait would hang on.
public final class ChildProcess {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// What a finished child printed, and how it ended.
    public struct Outcome: Sendable {
        /// The exit status, or 128 + the signal number for a child killed by a signal (as shells
        /// report it, so it is never mistaken for one of `ota`'s exit codes).
        public let status: Int32
        public let stdout: [UInt8]
        public let stderr: [UInt8]
    }

    public let pid: Int32
    private let output: Int32
    /// The read end of the standard error pipe (-1 when standard error goes to /dev/null).
    private let errors: Int32
    /// The write end of the standard input pipe (-1 when standard input is /dev/null).
    private var input: Int32
    private let inputBytes: [UInt8]
    private var status: Int32?

    /// Starts `executable` (a path) with `arguments`, in `directory` when given, with
    /// `environment` added to ours. Standard output goes into a pipe this object reads; standard
    /// error into a second pipe when `captureErrors` (else /dev/null); standard input reads
    /// `input` (fed by `finish`) when given, else /dev/null. With `outputFile`, standard output and
    /// error are appended to that file instead (for a server that runs on while nobody reads a pipe
    /// it could fill); `read` then sees only the end of output.
    public init(
        _ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String] = [:],
        captureErrors: Bool = false, input: [UInt8]? = nil, outputFile: String? = nil
    ) throws {
        var pipes: [Int32] = []
        func pipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            guard Self.pipe2(&fds, O_CLOEXEC) == 0 else {
                throw Failure(description: "pipe2: \(String(cString: strerror(errno)))")
            }
            pipes += fds
            return (fds[0], fds[1])
        }
        do {
            let out = try pipe()
            let err = captureErrors && outputFile == nil ? try pipe() : nil
            let inp = input != nil ? try pipe() : nil
            if input != nil { Self.ignoreBrokenPipes }

            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            // dup2 clears close-on-exec on the new descriptor only; every pipe end closes at exec.
            if let inp {
                posix_spawn_file_actions_adddup2(&actions, inp.read, 0)
            } else {
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            }
            if let outputFile {
                posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            } else {
                posix_spawn_file_actions_adddup2(&actions, out.write, 1)
                if let err {
                    posix_spawn_file_actions_adddup2(&actions, err.write, 2)
                } else {
                    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                }
            }
            if let directory {
                let result = Self.addchdir(&actions, directory)
                guard result == 0 else { throw Failure(description: "chdir \(directory): \(Self.describe(result))") }
            }
            var variables = ProcessInfo.processInfo.environment
            variables.merge(environment) { $1 }
            let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { envp.forEach { free($0) } }
            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            // The child starts as from a shell: no signal blocked, the stopping signals at their
            // defaults. A test thread's mask (the fleet service blocks SIGTERM and SIGINT in the
            // threads it starts) would otherwise be inherited, and a SIGTERM sent never arrive.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&attributes, &none)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var child: pid_t = 0
            let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
            guard result == 0 else {
                throw Failure(description: "posix_spawn \(executable): \(Self.describe(result))")
            }
            // The child holds its own copies now; ours of its ends must go, or the reads never end.
            close(out.write)
            if let err { close(err.write) }
            if let inp {
                close(inp.read)
                // Written only when poll says there is room, and never blocking on more than that.
                _ = fcntl(inp.write, F_SETFL, fcntl(inp.write, F_GETFL) | O_NONBLOCK)
            }
            pid = child
            output = out.read
            errors = err?.read ?? -1
            self.input = inp?.write ?? -1
            inputBytes = input ?? []
        } catch {
            pipes.forEach { close($0) }
            throw error
        }
    }

    /// The next bytes the child wrote on standard output; empty at end of output. Throws when
    /// nothing arrives within `timeout` seconds (a stuck child fails the test instead of hanging it).
    public func read(timeout: Double = 120) throws -> [UInt8] {
        var poller = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&poller, 1, Int32(timeout * 1000)) } while ready < 0 && errno == EINTR
        guard ready > 0 else { throw Failure(description: "no output from pid \(pid) within \(timeout) s") }
        return try Self.readSome(output)
    }

    /// Feeds standard input, reads standard output and error as they come (neither can fill up and
    /// stall the child) and reaps the child. Returns once the child has ended and its pipes are
    /// closed, or, when something it started still holds them open, once it has ended and what it
    /// wrote is read. Kills the child and throws after `timeout` seconds when given.
    public func finish(timeout: Double? = nil) throws -> Outcome {
        let deadline = timeout.map { Date(timeIntervalSinceNow: $0) }
        var stdout: [UInt8] = [], stderr: [UInt8] = [], written = 0
        var open = [output: true, errors: errors >= 0]
        if input >= 0 && inputBytes.isEmpty { closeInput() }
        while open.values.contains(true) {
            var pollers = [output, errors].filter { open[$0] == true }.map {
                pollfd(fd: $0, events: Int16(POLLIN), revents: 0)
            }
            if input >= 0 { pollers.append(pollfd(fd: input, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&pollers, nfds_t(pollers.count), 100)
            if ready < 0 {
                guard errno == EINTR else { throw Failure(description: "poll: \(String(cString: strerror(errno)))") }
                continue
            }
            if ready == 0 {
                if let deadline, Date() > deadline {
                    kill()
                    try wait()
                    throw Failure(description: "pid \(pid) still running after \(timeout ?? 0) s: killed")
                }
                // Ended, but a descendant holds a pipe open: what the child wrote is in the pipe.
                if try reapIfEnded() {
                    stdout += try Self.drain(output)
                    if errors >= 0 { stderr += try Self.drain(errors) }
                    break
                }
                continue
            }
            for poller in pollers where poller.revents != 0 {
                if poller.fd == input {
                    let count = inputBytes[written...].withUnsafeBytes { Glibc.write(input, $0.baseAddress, $0.count) }
                    if count > 0 { written += count }
                    // A child that stops reading (or exits) ends its input: EPIPE is not our failure.
                    if written == inputBytes.count || (count < 0 && errno != EINTR && errno != EAGAIN) {
                        closeInput()
                    }
                    continue
                }
                let chunk = try Self.readSome(poller.fd)
                if chunk.isEmpty { open[poller.fd] = false }
                if poller.fd == output { stdout += chunk } else { stderr += chunk }
            }
        }
        closeInput()
        let raw = try wait()
        let ended = Self.exitedNormally(raw) ? Self.exitStatus(raw) : 128 + (raw & 0x7f)
        return Outcome(status: ended, stdout: stdout, stderr: stderr)
    }

    /// Sends `signal` (the child may already be gone; that is not an error).
    public func kill(_ signal: Int32 = 9) {  // SIGKILL
        if status == nil { _ = Glibc.kill(pid, signal) }
    }

    /// Reaps the child (blocking until it ends) and returns its raw wait status.
    @discardableResult
    public func wait() throws -> Int32 {
        if let status { return status }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, 0) } while result < 0 && errno == EINTR
        guard result == pid else { throw Failure(description: "waitpid \(pid): \(String(cString: strerror(errno)))") }
        status = raw
        return raw
    }

    /// After `wait`: whatever the child wrote that is still in the pipe (read without blocking,
    /// so a descriptor held open elsewhere cannot stall it).
    public func remainingOutput() throws -> [UInt8] {
        precondition(status != nil, "remainingOutput() after wait()")
        return try Self.drain(output)
    }

    /// Whether the child has ended (reaping it if so), without blocking.
    public func hasEnded() throws -> Bool { try reapIfEnded() }

    /// Reaps the child if it has ended, without blocking.
    private func reapIfEnded() throws -> Bool {
        if status != nil { return true }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, WNOHANG) } while result < 0 && errno == EINTR
        guard result >= 0 else { throw Failure(description: "waitpid \(pid): \(String(cString: strerror(errno)))") }
        if result == pid { status = raw }
        return result == pid
    }

    private func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// One `read` of up to 64 KiB; empty at end of file.
    private static func readSome(_ fd: Int32) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var count: Int
        repeat { count = Glibc.read(fd, &buffer, buffer.count) } while count < 0 && errno == EINTR
        guard count >= 0 else { throw Failure(description: "read: \(String(cString: strerror(errno)))") }
        return Array(buffer.prefix(count))
    }

    /// Everything already in the pipe, read without blocking.
    private static func drain(_ fd: Int32) throws -> [UInt8] {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count > 0 { collected += buffer.prefix(count); continue }
            if count < 0 && errno == EINTR { continue }
            return collected
        }
    }

    // The wait-status macros, which Swift does not import.
    private static func exitedNormally(_ raw: Int32) -> Bool { raw & 0x7f == 0 }
    private static func exitStatus(_ raw: Int32) -> Int32 { (raw >> 8) & 0xff }

    private static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Writing to a pipe whose reader has gone raises SIGPIPE, which would end the test process;
    /// ignored once, the write fails with EPIPE instead.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// glibc's `pipe2`, which the Glibc module does not import (it needs `_GNU_SOURCE`).
    private static let pipe2: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32 = {
        guard let symbol = dlsym(nil, "pipe2") else { fatalError("glibc without pipe2") }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)
    }()

    /// glibc's `posix_spawn_file_actions_addchdir_np` (glibc 2.29; also behind `_GNU_SOURCE`).
    private static let addchdir:
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32 = {
            guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else {
                fatalError("glibc without posix_spawn_file_actions_addchdir_np")
            }
            return unsafeBitCast(
                symbol,
                to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32)
                    .self)
        }()

    deinit {
        if status == nil {
            _ = Glibc.kill(pid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        }
        close(output)
        if errors >= 0 { close(errors) }
        if input >= 0 { close(input) }
    }
}
