import Foundation

/// Threads of their own for the in-process fleet service. Swift Testing runs synchronous tests
/// on the cooperative pool, which has one thread per core: on a two-core CI machine two tests
/// blocked in `curl` or `nginx` leave a service task on that pool no thread to start or answer
/// on. A task started with this executor as its preference (and its child tasks) runs here.
final class ServiceExecutor: TaskExecutor, @unchecked Sendable {
    /// One executor for every harness in the test process; its threads live as long as it.
    static let shared = ServiceExecutor(threads: 4)

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(threads: Int) {
        for index in 0..<threads {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "fleet-service-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
