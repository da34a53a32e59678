/// An entry the verifier found intact and in order, with its body read strictly.
public struct VerifiedEntry: Sendable {
    public let entry: LogEntry
    package let body: EntryBody

    package init(entry: LogEntry, body: EntryBody) {
        self.entry = entry
        self.body = body
    }
}
