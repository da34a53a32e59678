public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process a test reads while it runs, kills at a moment of its choosing and reaps
/// itself (the crash tests). Unlike Foundation's `Process`, nothing here depends on a
/// descriptor the child or a sibling might inherit: the output pipe is made close-on-exec
/// atomically (`pipe2`), so a server another test starts at the same moment cannot hold its
/// write end open, and the child is reaped with `waitpid` on its own pid, so a killed child is
/// never left a zombie that a wait would hang on.
public final class ChildProcess {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let pid: Int32
    private let output: Int32
    private var status: Int32?

    /// Starts `executable` with `arguments`, standard input and error on /dev/null, standard
    /// output into a pipe this object reads.
    public init(_ executable: String, _ arguments: [String]) throws {
        var fds: [Int32] = [-1, -1]
        guard Self.pipe2(&fds, O_CLOEXEC) == 0 else {
            throw Failure(description: "pipe2: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)  // dup2 clears close-on-exec on fd 1 only
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            throw Failure(description: "posix_spawn \(executable): \(String(cString: strerror(result)))")
        }
        pid = child
        output = fds[0]
    }

    /// The next bytes the child wrote; empty at end of output. Throws when nothing arrives
    /// within `timeout` seconds (a stuck child fails the test instead of hanging it).
    public func read(timeout: Double = 120) throws -> [UInt8] {
        var poller = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&poller, 1, Int32(timeout * 1000)) } while ready < 0 && errno == EINTR
        guard ready > 0 else { throw Failure(description: "no output from pid \(pid) within \(timeout) s") }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var count: Int
        repeat { count = Glibc.read(output, &buffer, buffer.count) } while count < 0 && errno == EINTR
        guard count >= 0 else { throw Failure(description: "read: \(String(cString: strerror(errno)))") }
        return Array(buffer.prefix(count))
    }

    /// Sends `signal` (the child may already be gone; that is not an error).
    public func kill(_ signal: Int32 = SIGKILL) {
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
        _ = fcntl(output, F_SETFL, fcntl(output, F_GETFL) | O_NONBLOCK)
        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(output, &buffer, buffer.count)
            if count > 0 { collected += buffer.prefix(count); continue }
            if count < 0 && errno == EINTR { continue }
            return collected
        }
    }

    /// glibc's `pipe2`, which the Glibc module does not import (it needs `_GNU_SOURCE`).
    private static let pipe2: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32 = {
        guard let symbol = dlsym(nil, "pipe2") else { fatalError("glibc without pipe2") }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)
    }()

    deinit {
        if status == nil {
            _ = Glibc.kill(pid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        }
        close(output)
    }
}
