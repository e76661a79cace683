/// A fixture started on first use and shared by every test that asks for it (in one test
/// process), so a suite pays for one chain or sandbox however many tests it has.
public actor LazyFixture<Value: Sendable> {
    private let make: @Sendable () async throws -> Value
    private var task: Task<Value, any Error>?

    public init(_ make: @escaping @Sendable () async throws -> Value) {
        self.make = make
    }

    public func get() async throws -> Value {
        if let task { return try await task.value }
        let task = Task { try await make() }
        self.task = task
        return try await task.value
    }
}
