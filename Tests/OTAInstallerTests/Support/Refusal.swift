import OTACore

/// The code `body` fails with, or nil when it succeeds (or throws something else).
func refusal(_ body: () throws -> Void) -> OTAError.Code? {
    do {
        try body()
        return nil
    } catch let error as OTAError {
        return error.code
    } catch {
        return nil
    }
}
