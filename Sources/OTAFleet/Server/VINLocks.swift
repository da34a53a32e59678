import Foundation
import OTACore

/// Serialises uploads of one vehicle (a repeated upload racing the first must see its result),
/// while different vehicles proceed in parallel: 64 locks, a VIN always takes the same one.
final class VINLocks: Sendable {
    private let locks: [NSLock] = (0..<64).map { _ in NSLock() }

    func withLock<T>(_ vin: String, _ body: () throws(OTAError) -> T) throws(OTAError) -> T {
        var hash: UInt32 = 2_166_136_261
        for byte in vin.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let lock = locks[Int(hash % 64)]
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
