import EVM
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import ZGBroker

/// `GET /health` (liveness, cheap), `GET /health/ready` (chain, catalog, funds) and
/// `GET /metrics` (Prometheus text).
struct HealthRoutes<Context: RequestContext>: Sendable {
    let broker: ZGBroker
    let configuration: ProxyConfiguration
    let registry: PrometheusCollectorRegistry
    /// Below this the readiness report flags the ledger as low (1 0G).
    static var lowBalance: UInt256 { .oneZeroG }

    func add(to router: Router<Context>) {
        router.get("health") { _, _ in
            jsonResponse([
                "status": "ok", "timestamp": Int(Date().timeIntervalSince1970), "service": "zgproxy",
                "network": configuration.networkName, "sandbox": configuration.networkName == "sandbox",
            ])
        }
        router.get("health/ready") { _, _ in try await readiness() }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }

    func readiness() async throws -> Response {
        var checks: [String: Any] = [:]
        var ready = true
        do {
            checks["chain"] = ["ok": true, "block": try await broker.chain.client.blockNumber(), "chain_id": broker.chain.chainID]
        } catch {
            ready = false
            checks["chain"] = ["ok": false, "error": error.description]
        }
        if let age = await broker.catalog.age {
            checks["catalog"] = ["ok": true, "age_seconds": Int(age.components.seconds)]
        } else {
            do {
                let snapshot = try await broker.catalog.current()
                checks["catalog"] = ["ok": true, "age_seconds": 0, "services": snapshot.services.count]
            } catch {
                ready = false
                checks["catalog"] = ["ok": false, "error": error.description]
            }
        }
        do {
            let ledger = try await broker.chain.ledger.ledger(of: broker.wallet)
            let available = ledger?.availableBalance ?? .zero
            checks["ledger"] = [
                "ok": ledger != nil, "wallet": broker.wallet.checksummed,
                "available": available.zeroG, "total": (ledger?.totalBalance ?? .zero).zeroG,
                "low_balance": available < Self.lowBalance,
            ]
            if ledger == nil { ready = false }
        } catch {
            checks["ledger"] = ["ok": false, "error": error.description]
        }
        return jsonResponse(["status": ready ? "ready" : "not_ready", "network": configuration.networkName, "checks": checks], status: ready ? .ok : .serviceUnavailable)
    }
}
