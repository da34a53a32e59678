/// The body a vehicle sends the fleet service (`ota-fleet-upload/1`, docs/FORMAT.md): the log's
/// `log.json` as one line, then entry lines exactly as the segments hold them, in order, from
/// entry 0 or from the checkpoint the service last acknowledged. Every line ends in `LF`.
public enum LogUploadFormat {
    public static let name = "ota-fleet-upload/1"

    public static func body(meta: [UInt8], lines: [[UInt8]]) -> [UInt8] {
        var body = meta.filter { $0 != 0x0a }
        body.append(0x0a)
        for line in lines {
            body += line
            body.append(0x0a)
        }
        return body
    }
}
