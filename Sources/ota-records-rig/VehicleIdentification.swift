/// The VIN check digit (ISO 3779 as used by GB 16735 and 49 CFR 565): each character's value
/// (digits as themselves, letters by the standard's table) times its position's weight, summed
/// modulo 11, written in the ninth position (10 as `X`).
enum VehicleIdentification {
    static let weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]

    /// The value of one VIN character; nil for characters a VIN never holds (I, O, Q, others).
    static func value(_ character: UInt8) -> Int? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(character - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "H"): Int(character - UInt8(ascii: "A")) + 1
        case UInt8(ascii: "J")...UInt8(ascii: "N"): Int(character - UInt8(ascii: "J")) + 1
        case UInt8(ascii: "P"): 7
        case UInt8(ascii: "R"): 9
        case UInt8(ascii: "S")...UInt8(ascii: "Z"): Int(character - UInt8(ascii: "S")) + 2
        default: nil
        }
    }

    /// The check digit of a 17-character VIN (its ninth character is ignored); nil when a
    /// character is not a VIN character.
    static func checkDigit(_ vin: String) -> UInt8? {
        let characters = Array(vin.utf8)
        guard characters.count == 17 else { return nil }
        var sum = 0
        for (index, character) in characters.enumerated() {
            guard let value = value(character) else { return nil }
            sum += value * weights[index]
        }
        let remainder = sum % 11
        return remainder == 10 ? UInt8(ascii: "X") : UInt8(ascii: "0") + UInt8(remainder)
    }

    /// `vin` with its ninth character replaced by its check digit.
    static func withCheckDigit(_ vin: String) -> String {
        var characters = Array(vin.utf8)
        guard let digit = checkDigit(vin) else { return vin }
        characters[8] = digit
        return String(decoding: characters, as: UTF8.self)
    }
}
