import ArgumentParser
import OTACompliance
import OTACore

struct RecordsQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "List stored entries as JSON lines (or count them).")

    @Option(help: "The fleet store (SQLite file).") var store: String
    @OptionGroup var filterOptions: FilterOptions
    @Flag(help: "Only print how many entries match.") var count = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        let database = try SQLiteRecordStore(path: store)
        let filter = try filterOptions.filter()
        if count {
            let total = try database.count(matching: filter)
            struct Result: Encodable { let count: Int }
            Output.succeed(Result(count: total), human: String(total), json: output.json)
            return
        }
        try database.entries(matching: filter) { entry throws(OTAError) in
            print(
                "{\"vin\":\"\(entry.vin)\",\"seq\":\(entry.seq),\"kind\":\"\(entry.kind.rawValue)\",\"hash\":\"\(entry.hash)\",\"entry\":\(entry.body)}"
            )
        }
    }
}
