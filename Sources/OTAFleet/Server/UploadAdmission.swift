import Synchronization

/// Bounds the uploads the service holds at once. A body is collected whole into memory before it
/// is checked, and waits there for a thread and its vehicle's lock, so without a bound many
/// clients (or one client sending in parallel) could make the service hold any number of 64 MiB
/// bodies. Each upload reserves its announced length (`Content-Length`), or the largest upload
/// allowed when it announces none, before its body is read; it is turned away (`fleet.busy`, 503
/// with `Retry-After`) when the reservations would pass `maximumBytes`, or when its client (its
/// certificate's key) already has `maximumPerClient` uploads in flight.
final class UploadAdmission: Sendable {
    /// One admitted upload's reservation, given back with `release`.
    struct Reservation: Sendable {
        let bytes: Int
        let client: String
    }

    private struct State {
        var bytes = 0
        var perClient: [String: Int] = [:]
    }

    let maximumBytes: Int
    let maximumPerClient: Int
    private let state = Mutex(State())

    init(maximumBytes: Int, maximumPerClient: Int) {
        self.maximumBytes = maximumBytes
        self.maximumPerClient = maximumPerClient
    }

    /// Reserves `bytes` for `client` (its public key), or nil when either bound would
    /// be passed. An upload larger than `maximumBytes` on its own is admitted when nothing else is
    /// in flight, so a bound below the largest upload never refuses every upload.
    func admit(bytes: Int, client: String) -> Reservation? {
        state.withLock { state in
            let clientUploads = state.perClient[client, default: 0]
            guard clientUploads < maximumPerClient, state.bytes == 0 || state.bytes + bytes <= maximumBytes else {
                return nil
            }
            state.bytes += bytes
            state.perClient[client] = clientUploads + 1
            return Reservation(bytes: bytes, client: client)
        }
    }

    func release(_ reservation: Reservation) {
        state.withLock { state in
            state.bytes -= reservation.bytes
            let left = state.perClient[reservation.client, default: 1] - 1
            state.perClient[reservation.client] = left > 0 ? left : nil
        }
    }
}
