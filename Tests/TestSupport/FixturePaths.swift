import Foundation

/// Where the repository's fixtures and the Python that runs them are.
public enum FixturePaths {
    /// The repository root, found from this file's location.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        // Tests/TestSupport/FixturePaths.swift → repository root
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    public static var fixtures: URL { root.appendingPathComponent("Fixtures") }

    /// The Python with the fixtures' packages: `$ZGPROXY_PYTHON`, else the repository's `.venv`.
    public static var python: String {
        if let configured = ProcessInfo.processInfo.environment["ZGPROXY_PYTHON"], !configured.isEmpty { return configured }
        return root.appendingPathComponent(".venv/bin/python").path
    }

    /// Reads a fixture file as JSON.
    public static func json(_ relativePath: String) throws -> Any {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(relativePath))
        return try JSONSerialization.jsonObject(with: data)
    }
}
