import EVM
import Foundation
import TestSupport

/// Runs the built `zgproxy` binary as a child process, the way a person or a script would.
///
/// The binary is found next to the test bundle (`swift build --build-tests` builds it in the
/// same products directory), else at `.build/debug/zgproxy`, or at `$ZGPROXY_BINARY`.
enum CLIRunner {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String

        /// stdout as the one JSON object `--json` prints.
        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
                throw FixtureError("stdout is not a JSON object: \(stdout)")
            }
            return object
        }
    }

    static let binary: URL? = {
        var candidates = [URL]()
        if let configured = ProcessInfo.processInfo.environment["ZGPROXY_BINARY"] { candidates.append(URL(fileURLWithPath: configured)) }
        let bundle = Bundle.main.bundleURL
        candidates += [
            bundle.appendingPathComponent("zgproxy"),
            bundle.deletingLastPathComponent().appendingPathComponent("zgproxy"),
            FixturePaths.root.appendingPathComponent(".build/debug/zgproxy"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// The settings a command needs to use the sandbox as `wallet`; `.env` files are kept out
    /// with `--env-file /nonexistent` by the caller.
    static func environment(_ sandbox: Sandbox, wallet: PrivateKey, rpc: String? = nil) -> [String: String] {
        [
            "ZG_NETWORK": "custom", "ZG_CHAIN_RPC": rpc ?? sandbox.rpcURL,
            "ZG_LEDGER_CONTRACT": sandbox.ledgerContract.checksummed, "ZG_INFERENCE_CONTRACT": sandbox.inferenceContract.checksummed,
            "PRIVATE_KEY": wallet.rawBytes.prefixedHex,
        ]
    }

    /// Runs `zgproxy arguments…` with only `environment` (plus PATH and HOME) and stdin from
    /// `stdin` (a pipe, so never a terminal) or /dev/null.
    static func run(_ arguments: [String], environment: [String: String], stdin: String? = nil, timeout: Duration = .seconds(120)) async throws -> Result {
        guard let binary else { throw FixtureError("no zgproxy binary: run `swift build --build-tests` first") }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var childEnvironment = environment
        for name in ["PATH", "HOME"] { childEnvironment[name] = ProcessInfo.processInfo.environment[name] }
        process.environment = childEnvironment
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        async let stdoutData = out.fileHandleForReading.readToEndOffPool()
        async let stderrData = err.fileHandleForReading.readToEndOffPool()
        let deadline = ContinuousClock.now + timeout
        // Polls: Foundation's waitUntilExit spins a run loop on Linux.
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw FixtureError("zgproxy \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return Result(
            status: process.terminationStatus, stdout: String(decoding: await stdoutData, as: UTF8.self),
            stderr: String(decoding: await stderrData, as: UTF8.self)
        )
    }
}


extension Dictionary where Key == String, Value == Any {
    /// `object["a"]["b"]…` for JSON objects.
    subscript(path keys: String...) -> Any? {
        var current: Any? = self
        for key in keys { current = (current as? [String: Any])?[key] }
        return current
    }
}
