package import Dispatch

/// A semaphore holding `permits`, made at 0 and raised: libdispatch traps when a semaphore is
/// freed below the value it was made with, which a producer or a job stopped early can leave (a
/// fleet client hanging up mid-stream took the whole service down that way). Made at 0, it can
/// be freed whatever it holds.
package func permitSemaphore(_ permits: Int) -> DispatchSemaphore {
    let semaphore = DispatchSemaphore(value: 0)
    for _ in 0..<permits { semaphore.signal() }
    return semaphore
}
