/// `BootState` as bootloader environment variables, shared by the GRUB and U-Boot backends:
/// `ota_active_<group>`, `ota_trial_<group>` (`a`/`b`; empty or absent for none), `ota_tries`,
/// `ota_booted_<group>`, `ota_fallback`, `ota_boot_count`. Other variables are left alone.
enum BootVariables {
    static func isOurs(_ key: String) -> Bool { key.hasPrefix("ota_") }

    static func state(from list: [(String, String)]) -> BootState {
        let variables = Dictionary(list, uniquingKeysWith: { _, last in last })
        func slots(_ prefix: String) -> [String: SlotName] {
            var result: [String: SlotName] = [:]
            for (key, value) in variables where key.hasPrefix(prefix) {
                if let slot = SlotName(rawValue: value) { result[String(key.dropFirst(prefix.count))] = slot }
            }
            return result
        }
        var state = BootState(active: slots("ota_active_"))
        let trial = slots("ota_trial_")
        state.trial = trial.isEmpty ? nil : trial
        state.triesRemaining = Int(variables["ota_tries"] ?? "0") ?? 0
        state.booted = slots("ota_booted_")
        state.lastFallback = variables["ota_fallback"].flatMap { $0.isEmpty ? nil : $0 }
        state.bootCount = UInt64(variables["ota_boot_count"] ?? "0") ?? 0
        return state
    }

    static func variables(for state: BootState) -> [(String, String)] {
        var variables: [(String, String)] = []
        for (group, slot) in state.active.sorted(by: { $0.key < $1.key }) {
            variables.append(("ota_active_\(group)", slot.rawValue))
        }
        for (group, slot) in (state.trial ?? [:]).sorted(by: { $0.key < $1.key }) {
            variables.append(("ota_trial_\(group)", slot.rawValue))
        }
        variables.append(("ota_tries", String(state.triesRemaining)))
        for (group, slot) in state.booted.sorted(by: { $0.key < $1.key }) {
            variables.append(("ota_booted_\(group)", slot.rawValue))
        }
        if let fallback = state.lastFallback { variables.append(("ota_fallback", fallback)) }
        variables.append(("ota_boot_count", String(state.bootCount)))
        return variables
    }
}
