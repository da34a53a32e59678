/// A directory's entries as `FileSystem.listing` reads them. A name that is not UTF-8 has no
/// `String` that opens it (a repair turns each bad byte into U+FFFD), so it is kept apart,
/// written with its bad bytes as `\xFF`, for the reader to refuse or report by that spelling.
package struct DirectoryListing: Sendable {
    /// The UTF-8 names, without `.` and `..`, sorted.
    package var names: [String] = []
    /// The other names, escaped (`UTF8Bytes.escaped`), sorted.
    package var namesNotUTF8: [String] = []
}
