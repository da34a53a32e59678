internal import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Removes the outputs still being written when the process is stopped by a signal (Ctrl-C,
/// `kill`, a closed terminal, or SIGBUS from a mapped input truncated under it), then lets the
/// signal end the process as it would have. Without it a stopped `ota bundle build` left its
/// partial bundle behind under the temporary name (`.NAME.tmp-…`, gigabytes for a large image).
///
/// `AtomicFileWriter` and `ScratchFile` register each temporary file (`Registration`) until it is
/// renamed into place or removed.
/// The handler only reads the slots and calls `unlink`, `write` and `raise`, which are safe in a
/// signal handler; the slots are atomics so it never sees half a registration.
package enum InterruptCleanup {
    /// Temporary files open at once past this many are not removed on a signal (each output
    /// has one; a command writes a handful).
    static let capacity = 64

    /// Each slot holds a `strdup`'d path, or 0.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<Atomic<UInt>> = {
        let slots = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: capacity)
        for index in 0..<capacity { (slots + index).initialize(to: Atomic(0)) }
        return slots
    }()

    /// The signals that stop a command-line tool by default and leave it no chance to clean up.
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGBUS]

    /// A temporary path removed if a signal stops the process, from its registration (before
    /// the file exists: a signal right after the open would leave it otherwise) until `release`
    /// (renamed into place, or removed by its owner) or its own end.
    package final class Registration {
        private var slot: Int?

        /// Registers `path`; when every slot is taken it is not registered (see `capacity`).
        package init(_ path: String) { slot = InterruptCleanup.register(path) }

        /// Forgets the path; the later calls do nothing.
        package func release() {
            if let slot { InterruptCleanup.unregister(slot) }
            slot = nil
        }

        deinit { release() }
    }

    /// Remembers `path` for removal on a signal; the slot to give back to `unregister`, or nil
    /// when every slot is taken.
    fileprivate static func register(_ path: String) -> Int? {
        guard let copy = strdup(path) else { return nil }
        let value = UInt(bitPattern: copy)
        for index in 0..<capacity
        where slots[index].compareExchange(expected: 0, desired: value, ordering: .acquiringAndReleasing).exchanged {
            return index
        }
        free(copy)
        return nil
    }

    /// Forgets a registered path (renamed into place, or removed).
    fileprivate static func unregister(_ slot: Int) {
        let old = slots[slot].exchange(0, ordering: .acquiringAndReleasing)
        free(UnsafeMutablePointer<CChar>(bitPattern: old))
    }

    /// Installs the handler for `signals`, leaving alone a signal the process was started with
    /// ignored (`nohup`, a background job of a non-interactive shell). Once per process.
    package static func installHandlers() {
        _ = installed
    }

    /// What a command-line process (`ota`, `ota-diff`, `ota-patch`: one command each) sets up
    /// before its command runs: these handlers, and the record of its inputs (`ReadFiles`).
    package static func startCommandProcess() {
        installHandlers()
        ReadFiles.startTracking()
    }

    private static let installed: Bool = {
        _ = slots
        for signal in signals {
            var current = sigaction()
            guard sigaction(signal, nil, &current) == 0, !isIgnore(current.__sigaction_handler.sa_handler) else {
                continue
            }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = removeTemporaryFilesThenStop
            sigemptyset(&action.sa_mask)
            for other in signals { sigaddset(&action.sa_mask, other) }
            action.sa_flags = 0
            sigaction(signal, &action, nil)
        }
        return true
    }()

    private static func isIgnore(_ handler: __sighandler_t?) -> Bool {
        guard let handler else { return false }
        return unsafeBitCast(handler, to: UInt.self) == unsafeBitCast(SIG_IGN, to: UInt.self)
    }

    /// Unlinks every registered path; from the signal handler.
    fileprivate static func removeAll() {
        for index in 0..<capacity {
            let value = slots[index].load(ordering: .acquiring)
            if let path = UnsafeMutablePointer<CChar>(bitPattern: value) { unlink(path) }
        }
    }
}

/// The handler: remove the temporary files, then stop as the signal would have without us (its
/// default action, so the exit status still tells the caller which signal it was).
private func removeTemporaryFilesThenStop(_ signal: Int32) {
    InterruptCleanup.removeAll()
    if signal == SIGBUS {
        let message: StaticString =
            "error: a file mapped into memory was cut short while being read (SIGBUS): was an input changed during the run? Outputs in progress were removed.\n"
        _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
    }
    var action = sigaction()
    action.__sigaction_handler.sa_handler = SIG_DFL
    sigemptyset(&action.sa_mask)
    sigaction(signal, &action, nil)
    // Blocked while this handler runs: delivered, with its default action, when it returns (for
    // SIGBUS the faulting access runs again and faults).
    raise(signal)
}
