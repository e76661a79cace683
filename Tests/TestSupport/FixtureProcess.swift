import Foundation

/// A fixture server started as a child process that announces itself with one line
/// `<PREFIX> READY {json}` on stdout (the devchain, the simulated providers).
///
/// The child is started with `--exit-with-parent`, so a crashed test run leaves nothing behind;
/// ``stop()`` ends it early.
public final class FixtureProcess: @unchecked Sendable {
    public let process: Process
    /// The JSON object after the ready marker.
    public let ready: [String: Any]
    private let stderrPipe: Pipe

    /// Starts `arguments` with the fixtures' Python and waits for the ready line.
    public init(script: String, arguments: [String], readyPrefix: String, timeout: Duration = .seconds(60)) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FixturePaths.python)
        process.arguments = [FixturePaths.fixtures.appendingPathComponent(script).path] + arguments
        process.currentDirectoryURL = FixturePaths.root
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        guard FileManager.default.isExecutableFile(atPath: FixturePaths.python) else {
            throw FixtureError("no Python at \(FixturePaths.python): run `make test`, which creates the fixtures' venv")
        }
        try process.run()
        self.process = process
        self.stderrPipe = stderr
        let marker = "\(readyPrefix) READY "
        let line: String? = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                await Self.readLine(from: stdout.fileHandleForReading, startingWith: marker)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let line, let data = line.dropFirst(marker.count).data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            process.terminate()
            let errors = String(decoding: stderr.fileHandleForReading.availableData.prefix(4000), as: UTF8.self)
            throw FixtureError("\(script) did not become ready: \(errors)")
        }
        self.ready = object
        // Keep draining stdout so the child never blocks on a full pipe.
        stdout.fileHandleForReading.readabilityHandler = { handle in
            if handle.availableData.isEmpty { handle.readabilityHandler = nil }
        }
    }

    private static func readLine(from handle: FileHandle, startingWith marker: String) async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var buffer = Data()
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty {
                        continuation.resume(returning: nil)
                        return
                    }
                    buffer.append(chunk)
                    while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                        buffer.removeSubrange(buffer.startIndex...newline)
                        if line.hasPrefix(marker) {
                            continuation.resume(returning: line)
                            return
                        }
                    }
                }
            }
        }
    }

    /// Ends the child: SIGTERM, then SIGKILL if it is still there after five seconds.
    /// (Foundation's `waitUntilExit` spins a run loop on Linux, so this polls instead.)
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<250 where process.isRunning { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension FileHandle {
    /// Reads to end of file on a thread of its own. A blocking read on Swift's cooperative pool
    /// (two threads on a two-core machine) would starve every in-process server of the tests.
    public func readToEndOffPool() async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.readDataToEndOfFile()) }
        }
    }
}
