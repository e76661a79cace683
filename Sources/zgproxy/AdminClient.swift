import ArgumentParser
import AsyncHTTPClient
import EVM
import Foundation
import Logging
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOFoundationCompat
import Proxy
import ZGBroker

/// Where `keys`, `users` and `usage` act: a running gateway's admin API (`--gateway URL`, with
/// `ADMIN_TOKEN`), or the account store itself (`DATABASE_URL`, else the SQLite file at
/// `DATABASE_PATH` / `DATA_DIR`) — the same settings `serve` reads.
struct AdminTargetOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "A running gateway (e.g. http://127.0.0.1:3000) to ask through its admin API with ADMIN_TOKEN; without it the store is opened directly.",
        valueName: "url"
    ))
    var gateway: String?
    @OptionGroup var global: GlobalOptions
}

/// Runs ``AdminRequest``s where ``AdminTargetOptions`` says, and maps failures to ``CLIFailure``.
enum AdminClient {
    static func perform(_ request: AdminRequest, target: AdminTargetOptions) async throws -> [String: Any] {
        let environment: Environment
        do {
            environment = try Environment.load(dotEnvPath: target.global.envFile)
        } catch {
            throw CLIFailure(error)
        }
        if let gateway = target.gateway ?? environment["ZGPROXY_GATEWAY"] {
            return try await remote(request, gateway: gateway, token: environment["ADMIN_TOKEN"] ?? environment["AUTH_TOKEN"])
        }
        return try await local(request, environment: environment)
    }

    /// Against the store: the same code the gateway's `/admin` routes run.
    static func local(_ request: AdminRequest, environment: Environment) async throws -> [String: Any] {
        let configuration = try AccountsConfiguration(environment: environment)
        let logger = Logger(label: "zgproxy") { _ in SwiftLogNoOpLogHandler() }
        let accounts: Accounts
        do {
            accounts = try await Accounts.open(configuration: configuration, authToken: nil, chainID: 0, walletKey: PrivateKey.random().rawBytes, logger: logger)
        } catch let error as DatabaseError {
            throw CLIFailure(.network, "cannot open the account store: \(error.description)")
        }
        do {
            let (_, object) = try await AdminAPI(accounts: accounts).perform(request)
            await accounts.close()
            return object
        } catch {
            await accounts.close()
            throw failure(status: Int(error.status.code), message: error.message)
        }
    }

    /// Against a running gateway's `/admin` API.
    static func remote(_ request: AdminRequest, gateway: String, token: String?) async throws -> [String: Any] {
        guard let token else { throw CLIFailure.usage("ADMIN_TOKEN is not set: the gateway's admin API needs it (in the environment or the .env file)") }
        guard let base = URL(string: gateway), ["http", "https"].contains(base.scheme ?? "") else {
            throw CLIFailure.usage("--gateway must be an http(s) URL such as http://127.0.0.1:3000")
        }
        var http = HTTPClientRequest(url: gateway.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + request.path)
        http.method = .init(rawValue: request.method)
        http.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body = request.body {
            http.headers.add(name: "Content-Type", value: "application/json")
            http.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: JSONBodyValue.dictionary(body))))
        }
        let client = HTTPClient.shared
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(http, timeout: .seconds(30))
            bytes = try await response.body.collect(upTo: 16 << 20)
        } catch {
            throw CLIFailure(.network, "the gateway at \(base.host ?? gateway) could not be reached: \(error)")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        guard response.status.code < 400 else {
            let message = (object["error"] as? [String: Any])?["message"] as? String ?? "HTTP \(response.status.code)"
            throw failure(status: Int(response.status.code), message: message)
        }
        return object
    }

    static func failure(status: Int, message: String) -> CLIFailure {
        switch status {
        case 500...: CLIFailure(.network, message)
        case 401, 403: CLIFailure(.usage, message + " (check ADMIN_TOKEN)")
        default: CLIFailure(.usage, message)
        }
    }
}
