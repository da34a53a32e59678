import OTACore

/// The installer's persistent state, replaced atomically as one document at every stage change:
/// what each ECU runs (the security-version counters), what each slot holds, the clock floor, and
/// the update in progress with its stage. One atomic replace per transition is the journal: after
/// a power loss the store holds either the stage before or the stage after, never a mix. It lives
/// in the vehicle's `ProtectedStore`, so counters and floor edited behind the installer's back are
/// refused (`vehicle.state-tampered`), not trusted.
struct StateJournal {
    static let fileName = "state.json"
    let store: any ProtectedStore

    func load() throws(OTAError) -> VehicleState? {
        guard let bytes = try store.load(Self.fileName) else { return nil }
        return try CanonicalJSON.decodeInput(VehicleState.self, from: bytes, as: .vehicleStateMalformed)
    }

    func save(_ state: VehicleState) throws(OTAError) {
        var next = state
        next.sequence += 1
        try store.store(Self.fileName, try CanonicalJSON.encode(next))
    }
}
