import Foundation
import OTACompliance
import OTACore
import OTARecorder
import Testing

/// An export of many vehicles holds a bounded number of open files: each vehicle's evidence is
/// written and put in place before the next (it once held two descriptors per vehicle to the
/// end, and a 10,000-vehicle export ran out of descriptors).
@Suite struct ExportScaleTests {
    /// Forwards to a store, noting the process's open descriptors each time a vehicle's chain
    /// evidence is read.
    final class DescriptorWatchingStore: RecordStore {
        let base: any RecordStore
        private(set) var mostOpen = 0
        init(_ base: any RecordStore) { self.base = base }

        static func openDescriptors() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        }

        var identity: String { base.identity }
        func vehicle(_ vin: String) throws(OTAError) -> StoredVehicle? { try base.vehicle(vin) }
        func transaction(_ body: (any RecordStoreWriter) throws(OTAError) -> Void) throws(OTAError) {
            try base.transaction(body)
        }
        func entries(matching filter: RecordFilter, _ body: (StoredEntry) throws(OTAError) -> Void) throws(OTAError) {
            try base.entries(matching: filter, body)
        }
        func count(matching filter: RecordFilter) throws(OTAError) -> Int { try base.count(matching: filter) }
        func chain(of vin: String, from: UInt64, through: UInt64, _ body: (StoredEntry) throws(OTAError) -> Void)
            throws(OTAError)
        {
            mostOpen = max(mostOpen, Self.openDescriptors())
            try base.chain(of: vin, from: from, through: through, body)
        }
        func checkpoint(of vin: String, atOrBefore seq: UInt64) throws(OTAError) -> UInt64? {
            try base.checkpoint(of: vin, atOrBefore: seq)
        }
        func checkpoint(of vin: String, atOrAfter seq: UInt64) throws(OTAError) -> UInt64? {
            try base.checkpoint(of: vin, atOrAfter: seq)
        }
        func softwareHistory(of vin: String) throws(OTAError) -> [SoftwareChange] { try base.softwareHistory(of: vin) }
        func vehicles(runningSWIN swin: String?, rxswin: String?) throws(OTAError) -> [SoftwareChange] {
            try base.vehicles(runningSWIN: swin, rxswin: rxswin)
        }
        func purges() throws(OTAError) -> [PurgeTombstone] { try base.purges() }
        func lastActivity() throws(OTAError) -> Date? { try base.lastActivity() }
        func entriesBefore(_ cutoff: String) throws(OTAError) -> (count: Int, newest: String?) {
            try base.entriesBefore(cutoff)
        }
    }

    @Test func `an export of many vehicles keeps a bounded number of files open`() throws {
        let ws = Workspace()
        defer { ws.cleanup() }
        let vehicles = 150
        let store = DescriptorWatchingStore(try Fleet.store(ws, vehicles: vehicles, count: 4))
        let before = DescriptorWatchingStore.openDescriptors()
        let summary = try Fleet.exporter().export(from: store, to: ws.path + "/out")
        #expect(summary.vehicles == vehicles)
        let evidence = try FileManager.default.contentsOfDirectory(atPath: ws.path + "/out/evidence")
        #expect(evidence.count == 2 * vehicles)
        // Two descriptors per vehicle held to the end would be 300 more by the last vehicle;
        // other tests running beside this one open a few.
        #expect(store.mostOpen - before < vehicles / 2, "open descriptors grew from \(before) to \(store.mostOpen)")
    }
}
