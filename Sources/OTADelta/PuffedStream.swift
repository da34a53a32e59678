/// A deflate stream taken apart into three byte strings that a delta tool can diff well.
///
/// `DeflatePuff.puff` produces it and `DeflateHuff.huff` writes the exact original bytes back.
/// All integers marked *varint* are unsigned LEB128 (7 bits per byte, low group first, high bit
/// set when more bytes follow, at most 10 bytes, value at most `Int.max`).
///
/// **headers**
/// 1. varint prefixLength, then the container prefix bytes verbatim (e.g. the 2-byte zlib header).
/// 2. For each block in order: one byte `BFINAL | BTYPE << 1` (BTYPE 0 stored, 1 fixed, 2 dynamic), then
///    - stored: varint padValue — the 0-7 bits skipped to reach a byte boundary, as an integer whose
///      least significant bit is the first bit read (the bit count follows from the bit position);
///      then varint LEN.
///    - fixed: nothing.
///    - dynamic: three bytes HLIT-257, HDIST-1, HCLEN-4; then HCLEN bytes, the code-length code
///      lengths in transmission order (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15);
///      then the code-length symbols as transmitted, one byte each (0-18), where each 16, 17 or 18 is
///      followed by one byte holding its extra-bits value (2, 3 or 7 bits).
/// 3. After the final block: varint padValue of the bits from the end of the final block to the
///    byte boundary (0 bits gives 0), then varint suffixLength and the suffix bytes verbatim.
///
/// **tokens** — for each block, a sequence of entries `varint literalRun, varint L`, where
/// `literalRun` counts literal bytes taken next from `data`; `L == 0` is the end of the block, and
/// otherwise `L = matchLength - 2` (1...256) and is followed by `varint distance - 1`.
/// A stored block is exactly `varint LEN, varint 0`; its bytes are in `data`.
///
/// **data** — the decompressed bytes of the whole stream in order: literals and the bytes that
/// matches produce (huff skips over the latter).
///
/// Huffman codes are canonical and rebuilt from the code lengths, and every match length and
/// distance has a single (symbol, extra bits) encoding, except length 258 which huff always writes
/// as symbol 285; puff refuses the other encoding (symbol 284 with extra 31) as `notReproducible`.
package struct PuffedStream: Equatable, Sendable {
    package var headers: [UInt8]
    package var tokens: [UInt8]
    package var data: [UInt8]

    package init(headers: [UInt8], tokens: [UInt8], data: [UInt8]) {
        self.headers = headers
        self.tokens = tokens
        self.data = data
    }
}
