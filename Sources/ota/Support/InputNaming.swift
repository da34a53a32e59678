import OTACore

/// Runs `body`; an error about the contents of the input file at `path` (its code in one of
/// `families`, such as "approval.") comes back with the file named in front. The checks of a
/// file's contents see its bytes, not where they came from.
func namingInput<T>(
    _ path: String?, families: [String], except excluded: [OTAError.Code] = [],
    _ body: () throws(OTAError) -> T
) throws(OTAError) -> T {
    do { return try body() } catch {
        guard let path, families.contains(where: error.code.rawValue.hasPrefix), !excluded.contains(error.code),
            !error.message.hasPrefix(path)
        else { throw error }
        throw error.prefixed(path)
    }
}

/// The error families about an approval file's contents (a missing approval is not about a file).
let approvalInputFamilies = ["approval."]
/// The error families about a trust update's or CRL file's contents.
let trustInputFamilies = ["crl.", "trust.update", "certificate."]
