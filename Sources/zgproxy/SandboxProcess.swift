import Foundation

/// The local sandbox (`Fixtures/zerog/sandbox.py`): a devchain with the 0G contracts, simulated
/// providers and a funded demo wallet, started as a child process for `zgproxy serve` when no
/// network is configured.
final class SandboxProcess: @unchecked Sendable {
    struct Ready {
        let rpc: String
        let ledger: String
        let inference: String
        let walletKey: String
        let walletAddress: String
        let providers: [(model: String, address: String)]
    }

    let process: Process
    let ready: Ready

    /// Starts the sandbox from the repository at `root` and waits for its ready line.
    init(root: URL) throws {
        let script = root.appendingPathComponent("Fixtures/zerog/sandbox.py")
        let python = ProcessInfo.processInfo.environment["ZGPROXY_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.fileExists(atPath: script.path), FileManager.default.isExecutableFile(atPath: python) else {
            throw SandboxError(
                "the sandbox needs the zgproxy repository and its Python venv (run ./scripts/run.sh from the repository), or set ZG_NETWORK and PRIVATE_KEY"
            )
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        // ZG_SANDBOX_ARGS passes options through (e.g. "--tokens-per-second 20" for slow streams).
        let extra = (ProcessInfo.processInfo.environment["ZG_SANDBOX_ARGS"] ?? "").split(separator: " ").map(String.init)
        process.arguments = [script.path, "--exit-with-parent", "--quiet"] + extra
        process.currentDirectoryURL = root
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let marker = "SANDBOX READY "
        var buffer = Data()
        var line: String? = nil
        while line == nil {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            for candidate in String(decoding: buffer, as: UTF8.self).split(separator: "\n") where candidate.hasPrefix(marker) {
                line = String(candidate.dropFirst(marker.count))
            }
        }
        guard let line, let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let rpc = object["rpc"] as? String, let ledger = object["ledger"] as? String, let inference = object["inference"] as? String,
              let wallet = object["wallet"] as? [String: Any], let key = wallet["privateKey"] as? String, let address = wallet["address"] as? String else {
            process.terminate()
            throw SandboxError("the sandbox did not start (see the messages above)")
        }
        let providers = (object["providers"] as? [[String: Any]] ?? []).compactMap { entry -> (String, String)? in
            guard entry["usable"] as? Bool == true, let model = entry["model"] as? String, let provider = entry["provider"] as? String else { return nil }
            return (model, provider)
        }
        ready = Ready(rpc: rpc, ledger: ledger, inference: inference, walletKey: key, walletAddress: address, providers: providers)
        stdout.fileHandleForReading.readabilityHandler = { handle in
            if handle.availableData.isEmpty { handle.readabilityHandler = nil }
        }
    }

    /// Stops the sandbox and its chain and simulators (SIGTERM, then SIGKILL after 5 s).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<250 where process.isRunning { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The repository root: `ZGPROXY_HOME`, else the working directory or one of its parents
    /// holding `Fixtures/zerog/sandbox.py`.
    static func repositoryRoot() -> URL? {
        if let home = ProcessInfo.processInfo.environment["ZGPROXY_HOME"] { return URL(fileURLWithPath: home) }
        var url = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Fixtures/zerog/sandbox.py").path) { return url }
            url.deleteLastPathComponent()
        }
        return nil
    }
}

struct SandboxError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
