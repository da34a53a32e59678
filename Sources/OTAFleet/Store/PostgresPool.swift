import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import OTACore
import PostgresNIO
import Synchronization

/// A bounded pool of PostgreSQL connections with a synchronous interface: the store's calls
/// block their own thread (a request handler runs them on the server's thread pool, never on an
/// event loop) while postgres-nio works on its event loops.
///
/// At most `size` connections exist; a caller waits for a free one. A connection that failed
/// (closed by the server, a broken socket) is dropped, and the next caller opens a new one.
final class PostgresPool: Sendable {
    let location: PostgresLocation
    let size: Int
    let logger: Logger
    private let idle = Mutex<[PostgresConnection]>([])
    private let slots: DispatchSemaphore
    private let nextID = Atomic<Int>(1)

    init(location: PostgresLocation, size: Int) {
        self.location = location
        self.size = max(1, size)
        slots = DispatchSemaphore(value: max(1, size))
        var logger = Logger(label: "ota.fleet.postgres")
        logger.logLevel = .critical
        self.logger = logger
    }

    /// Closes what is idle; each connection stays referenced until its close completes
    /// (postgres-nio requires a connection to be closed before it is released).
    deinit {
        for connection in idle.withLock({ $0 }) {
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }

    private var configuration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch location.endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: location.user, password: location.password,
                database: location.database, tls: .disable)
        case .unixSocket(let path):
            configuration = .init(
                unixSocketPath: path, username: location.user, password: location.password, database: location.database)
        }
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    /// Runs `body` with a connection of its own; the connection returns to the pool after.
    func withConnection<T>(_ body: (PostgresConnection) throws(OTAError) -> T) throws(OTAError) -> T {
        slots.wait()
        defer { slots.signal() }
        let connection = try checkOut()
        do throws(OTAError) {
            let result = try body(connection)
            checkIn(connection)
            return result
        } catch {
            checkIn(connection)
            throw error
        }
    }

    private func checkOut() throws(OTAError) -> PostgresConnection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger
            ).wait()
        } catch {
            throw OTAError(
                .recordsStore, "\(location.redacted): cannot connect to PostgreSQL", cause: PostgresPool.describe(error)
            )
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        if connection.isClosed { return }
        idle.withLock { $0.append(connection) }
    }

    /// Closes the idle connections (connections in use close when they come back).
    func close() {
        let connections = idle.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for connection in connections {
            let closing: EventLoopFuture<Void> = connection.close()
            try? closing.wait()
        }
    }

    /// A PostgreSQL error with the server's message (PSQLError hides it from `description`).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            var parts: [String] = []
            if let message = error.serverInfo?[.message] { parts.append(message) }
            if let detail = error.serverInfo?[.detail] { parts.append(detail) }
            if let state = error.serverInfo?[.sqlState] { parts.append("SQLSTATE \(state)") }
            if !parts.isEmpty { return parts.joined(separator: "; ") }
        }
        return String(reflecting: error)
    }

    /// The SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}
