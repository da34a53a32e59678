internal import CMalloc

/// Process-wide settings of glibc's allocator (`mallopt`), made once at start-up by an
/// executable whose memory profile is known.
package enum AllocatorSettings {
    /// Blocks from 128 KiB on get their own mapping, unmapped when freed, and free space at the
    /// top of a heap is trimmed from 128 KiB on. glibc otherwise raises both thresholds to the
    /// largest block freed so far (up to 32 MiB): a diff frees multi-MiB blocks early (site
    /// lists, the suffix sort's work space), and the smaller ones allocated after that then stay
    /// in its heaps once freed, 2-7 MiB of a diff's peak. For the builder-side executables.
    package static func returnFreedMemoryPromptly() {
        _ = mallopt(M_MMAP_THRESHOLD, 128 << 10)
        _ = mallopt(M_TRIM_THRESHOLD, 128 << 10)
    }

    /// Every thread allocates from the main heap. glibc gives each new thread that allocates a
    /// heap of its own: the patch applier's frame thread then kept ~350 KiB more peak memory
    /// (postgres amd64, 7 runs each). Its threads allocate little (a few arrays per 64 KiB
    /// block of old code), so they rarely wait on the shared heap's lock. For the vehicle-side
    /// applier.
    package static func oneHeapForAllThreads() {
        _ = mallopt(M_ARENA_MAX, 1)
    }
}
