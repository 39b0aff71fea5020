public import JesterConfig
import JesterManifest
public import JesterRuntime
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
public import ServiceLifecycle

/// The edge gateway: listeners, routes and upstreams from a ``GatewayConfig``.
///
/// ```swift
/// let gateway = Gateway(config: config, logger: logger)
/// try await gateway.start()
/// // … later, from SIGHUP:
/// try await gateway.reload(newConfig)   // a broken config throws; the old one keeps serving
/// await gateway.shutdown()              // drains in-flight requests, then closes
/// ```
///
/// As a ServiceLifecycle `Service`, `run()` starts the gateway, serves until graceful shutdown is
/// triggered (SIGTERM/SIGINT in a `ServiceGroup`), then drains.
public final class Gateway: Service, Sendable {
    private let core: GatewayCore
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let state = NIOLockedValueBox(State())
    private let reloadLock = NIOLockedValueBox(false)
    private let stopped = StopSignal()
    private let allowUnsafeDylib: Bool
    private let trustStore: (any TrustStore)?
    /// Built-in filters' state that outlives a reload (rate-limit buckets, fetched key sets).
    private let filterStates = FilterStateStore()
    private let reloadConfig: (@Sendable () async throws -> GatewayConfig)?

    private struct State {
        var listeners: [Listener] = []
        /// The admin API's socket, when the config has `[admin]`.
        var admin: AdminServer?
        /// When ``start()`` finished, for the uptime in `GET /status`.
        var startedAt: ContinuousClock.Instant?
        var started = false
        var stopping = false
        var generation = 0
        var config: GatewayConfig
        var plugins: [PluginKey: Plugin] = [:]
        init(config: GatewayConfig = GatewayConfig()) { self.config = config }
    }

    /// Traffic counters.
    public var statistics: GatewayStatistics { core.statistics }

    /// - Parameters:
    ///   - config: The configuration to serve.
    ///   - logger: Gateway events: start, reload, errors.
    ///   - accessLogger: Where access log lines go (one per request, at `info`), when the config
    ///     enables them. Default: `logger`.
    ///   - pluginHost: Runs handler plugins. Default: a host logging to `logger`.
    ///   - eventLoopGroup: The event loops to serve on. Default: one thread per core, owned by the gateway.
    ///   - allowUnsafeDylib: Whether `dylib` filters may load even when the config's `[plugins]
    ///     allow_unsafe_dylib` is false (`jester run --allow-unsafe-dylib`).
    ///   - trustStore: The keys plugins must be signed with when the config's `[plugins]
    ///     require_signatures` is true; read at start and on every reload. Without one, such a
    ///     config fails to start.
    ///   - reloadConfig: Loads the config again, as a reload by signal would (`jester run` reads
    ///     its config file). With it, the admin API answers `POST /reload` by calling it and then
    ///     ``reload(_:)``; without it, `POST /reload` is a 404.
    public init(
        config: GatewayConfig, logger: Logger, accessLogger: Logger? = nil, pluginHost: PluginHost? = nil,
        eventLoopGroup: (any EventLoopGroup)? = nil, allowUnsafeDylib: Bool = false, trustStore: (any TrustStore)? = nil,
        reloadConfig: (@Sendable () async throws -> GatewayConfig)? = nil
    ) {
        self.allowUnsafeDylib = allowUnsafeDylib
        self.trustStore = trustStore
        self.reloadConfig = reloadConfig
        if let eventLoopGroup {
            group = eventLoopGroup
            ownsGroup = false
        } else {
            group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
            ownsGroup = true
        }
        let placeholder = RoutingTable(generation: 0, config: config, router: Router(entries: []), upstreams: [:])
        core = GatewayCore(
            table: placeholder, logger: logger, accessLogger: accessLogger ?? logger,
            pluginHost: pluginHost ?? PluginHost(logger: logger)
        )
        state.withLockedValue { $0.config = config }
    }

    /// The addresses the listeners are bound to, by listener name (useful with port 0).
    public var boundAddresses: [String: SocketAddress] {
        state.withLockedValue { state in
            Dictionary(state.listeners.compactMap { listener in listener.localAddress.map { (listener.config.name, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// The bound port of a listener.
    public func port(of listener: String) -> Int? { boundAddresses[listener]?.port }

    /// The address the admin API is bound to (useful with `[admin] listen` on port 0); `nil` when
    /// the config has no `[admin]` or the gateway is not serving.
    public var adminAddress: SocketAddress? {
        state.withLockedValue { $0.admin?.localAddress }
    }

    /// The configuration being served.
    public var config: GatewayConfig { state.withLockedValue { $0.config } }

    /// How many state objects built-in filters keep across reloads: one per entry that keeps state
    /// (a rate-limit, a jwt-auth with a URL) in the routes being served.
    @_spi(Testing) public var filterStateCount: Int { filterStates.count }

    /// The state and counters of every plugin the routes use (handlers and WASM filters), by id:
    /// calls, errors, traps, whether it is ready or degraded.
    public var pluginStatuses: [PluginStatus] {
        state.withLockedValue { Array($0.plugins.values) }.map(\.status).sorted { $0.id < $1.id }
    }

    /// Builds the routing table as ``start()`` would, without binding a listener: upstream TLS,
    /// handler plugins, and every route filter (built-in names, each filter's config against its
    /// JSON Schema, WASM plugins loaded and validated, dylibs loaded when allowed). For `jester
    /// config validate`, which checks what only building the routes shows. The routes being served
    /// are not touched: their filters keep their state, and nothing the checked filters would start
    /// once serving (a key set fetch) is started.
    ///
    /// - Throws: ``GatewayError`` listing every problem, each with its file and line.
    public func check() async throws {
        _ = try await buildTable(config, generation: 0, previousPlugins: [:], states: FilterStateStore.Build(mode: .dryRun))
    }

    /// Builds the routes, loads handler plugins and binds every listener.
    ///
    /// - Throws: ``GatewayError`` naming the listener, route or plugin that failed; nothing is
    ///   left bound when it throws.
    public func start() async throws {
        let config = state.withLockedValue { state -> GatewayConfig? in
            guard !state.started else { return nil }
            state.started = true
            return state.config
        }
        guard let config else { return }
        let states = filterStates.makeBuild()
        let (table, plugins) = try await buildTable(config, generation: 1, previousPlugins: [:], states: states)
        core.swap(table)
        var listeners: [Listener] = []
        var admin: AdminServer?
        do {
            for listenerConfig in config.listeners {
                listeners.append(try await Listener.bind(listenerConfig, core: core, group: group))
            }
            if let adminConfig = config.admin {
                admin = try await bindAdmin(adminConfig)
            }
        } catch {
            for listener in listeners { await listener.stopAccepting() }
            state.withLockedValue { $0.started = false }
            throw error
        }
        state.withLockedValue {
            $0.listeners = listeners
            $0.admin = admin
            $0.startedAt = .now
            $0.generation = 1
            $0.plugins = plugins
        }
        states.commit()
        for listener in listeners {
            core.logger.notice(
                "listening",
                metadata: [
                    "listener": .string(listener.config.name), "address": .string(listener.localAddress.map { "\($0)" } ?? "?"),
                    "tls": .stringConvertible(listener.config.tls != nil),
                ]
            )
        }
        if let admin { logAdminListening(admin) }
    }

    private func bindAdmin(_ config: AdminConfig) async throws -> AdminServer {
        try await AdminServer.bind(config, routes: adminRoutes, group: group, logger: core.logger)
    }

    private func logAdminListening(_ admin: AdminServer) {
        core.logger.notice(
            "admin API listening",
            metadata: [
                "address": .string(admin.localAddress.map(Self.format) ?? "?"),
                "token": .stringConvertible(admin.config.token != nil),
            ]
        )
    }

    /// Replaces the configuration atomically. The new routes, upstreams and plugins are built
    /// first; if anything fails the error is thrown and the old configuration keeps serving.
    /// Requests in flight finish on the routes they started on. Listeners whose settings changed
    /// are rebound; the others keep their sockets and connections. Built-in filters whose entry and
    /// state key are unchanged keep their state (rate-limit buckets, a fetched key set); a failed
    /// reload leaves it as it was.
    public func reload(_ newConfig: GatewayConfig) async throws {
        let busy = reloadLock.withLockedValue { busy -> Bool in
            if busy { return true }
            busy = true
            return false
        }
        guard !busy else { throw GatewayError.reloadInProgress }
        defer { reloadLock.withLockedValue { $0 = false } }

        let (generation, previousPlugins, oldListeners, oldAdmin) = state.withLockedValue {
            ($0.generation + 1, $0.plugins, $0.listeners, $0.admin)
        }
        let states = filterStates.makeBuild()
        let (table, plugins) = try await buildTable(newConfig, generation: generation, previousPlugins: previousPlugins, states: states)

        // Listeners: keep the unchanged ones, close the removed or changed ones, bind the new.
        let kept = oldListeners.filter { old in newConfig.listeners.contains { $0 == old.config } }
        let removed = oldListeners.filter { old in !kept.contains { $0 === old } }
        let toBind = newConfig.listeners.filter { new in !kept.contains { $0.config == new } }
        // The admin API is rebound only when its address changed (or it was added or removed);
        // a new token applies to the next request on the same socket.
        let rebindAdmin = oldAdmin?.config.listen != newConfig.admin?.listen
        for listener in removed { await listener.stopAccepting() }
        if rebindAdmin, let oldAdmin { await oldAdmin.stopAccepting() }
        var bound: [Listener] = []
        var newAdmin: AdminServer?
        do {
            for listenerConfig in toBind {
                bound.append(try await Listener.bind(listenerConfig, core: core, group: group))
            }
            if rebindAdmin, let adminConfig = newConfig.admin {
                newAdmin = try await bindAdmin(adminConfig)
            }
        } catch {
            // Put the old listeners back so the old config keeps serving as it was.
            for listener in bound { await listener.stopAccepting() }
            var restored: [Listener] = []
            for listener in removed {
                if let again = try? await Listener.bind(listener.config, core: core, group: group) { restored.append(again) }
            }
            var restoredAdmin = oldAdmin
            if rebindAdmin, let oldAdmin {
                restoredAdmin = try? await bindAdmin(oldAdmin.config)
            }
            state.withLockedValue {
                $0.listeners = kept + restored
                $0.admin = restoredAdmin
            }
            throw error
        }
        core.swap(table)
        // The store now holds what the new routes use; state only the old routes used goes with them.
        states.commit()
        if !rebindAdmin, let oldAdmin, let adminConfig = newConfig.admin { oldAdmin.update(adminConfig) }
        state.withLockedValue {
            $0.listeners = kept + bound
            if rebindAdmin { $0.admin = newAdmin }
            $0.generation = generation
            $0.config = newConfig
            $0.plugins = plugins
        }
        let drainDeadline = NIODeadline.now() + .milliseconds(newConfig.lifecycle.drainTimeout.milliseconds)
        for listener in removed {
            Task { await listener.connections.drain(deadline: drainDeadline) }
        }
        if rebindAdmin, let oldAdmin {
            Task { await oldAdmin.connections.drain(deadline: NIODeadline.now() + Self.adminDrainGrace) }
        }
        if let newAdmin { logAdminListening(newAdmin) }
        core.logger.notice(
            "configuration reloaded",
            metadata: [
                "generation": .stringConvertible(generation), "routes": .stringConvertible(newConfig.routes.count),
                "listeners_rebound": .stringConvertible(bound.count),
            ]
        )
    }

    /// Stops accepting, lets in-flight requests finish for up to `drainTimeout` (default: the
    /// config's `lifecycle.drain_timeout`), then closes every connection.
    public func shutdown(drainTimeout: Duration? = nil) async {
        let (listeners, admin, config, alreadyStopping) = state.withLockedValue { state in
            let stopping = state.stopping
            state.stopping = true
            return (state.listeners, state.admin, state.config, stopping)
        }
        guard !alreadyStopping else {
            await stopped.wait()
            return
        }
        let timeout = drainTimeout.map { TimeAmount.nanoseconds(Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000) }
            ?? .milliseconds(config.lifecycle.drainTimeout.milliseconds)
        core.logger.notice("shutting down", metadata: ["drain_timeout_ms": .stringConvertible(timeout.nanoseconds / 1_000_000)])
        for listener in listeners { await listener.stopAccepting() }
        let deadline = NIODeadline.now() + timeout
        await withTaskGroup(of: Void.self) { group in
            for listener in listeners {
                group.addTask { await listener.connections.drain(deadline: deadline) }
            }
        }
        core.pools.closeAll()
        // The admin API stays up through the drain, its /healthz answering 503, and goes last.
        if let admin {
            await admin.stopAccepting()
            await admin.connections.drain(deadline: NIODeadline.now() + Self.adminDrainGrace)
        }
        state.withLockedValue {
            $0.listeners = []
            $0.admin = nil
        }
        if ownsGroup {
            try? await group.shutdownGracefully()
        }
        stopped.fire()
        core.logger.notice("stopped")
    }

    /// Starts (if needed), serves until graceful shutdown or cancellation, then drains.
    public func run() async throws {
        try await start()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await stopped.wait()
            } onCancel: {
                Task { await self.shutdown() }
            }
        } onGracefulShutdown: {
            Task { await self.shutdown() }
        }
    }

    // MARK: building a routing table

    struct PluginKey: Hashable, Sendable {
        let path: String
        let config: [String: String]
        let wasm: [UInt8]
    }

    private func buildTable(
        _ config: GatewayConfig, generation: Int, previousPlugins: [PluginKey: Plugin], states: FilterStateStore.Build
    ) async throws -> (RoutingTable, [PluginKey: Plugin]) {
        var problems: [String] = []
        var clientContexts: [UpstreamEndpoint.Key: NIOSSLContext] = [:]
        var groups: [String: UpstreamGroup] = [:]
        for upstream in config.upstreams {
            var endpoints: [UpstreamEndpoint] = []
            for target in upstream.targets {
                var context: NIOSSLContext?
                if target.tls {
                    let key = UpstreamEndpoint.Key(target: UpstreamTarget(tls: true, host: "", port: 0), tlsVerify: upstream.tlsVerify, caFile: upstream.caFile)
                    if let cached = clientContexts[key] {
                        context = cached
                    } else {
                        do {
                            var tls = TLSConfiguration.makeClientConfiguration()
                            if !upstream.tlsVerify { tls.certificateVerification = .none }
                            if let ca = upstream.caFile { tls.additionalTrustRoots = [.file(ca)] }
                            context = try NIOSSLContext(configuration: tls)
                            clientContexts[key] = context
                        } catch {
                            problems.append("upstream '\(upstream.name)': cannot set up TLS: \(error)")
                        }
                    }
                }
                endpoints.append(UpstreamEndpoint(target: target, upstream: upstream, tlsContext: context))
            }
            if endpoints.isEmpty {
                problems.append("upstream '\(upstream.name)' has no targets")
                continue
            }
            groups[upstream.name] = UpstreamGroup(name: upstream.name, strategy: upstream.strategy, endpoints: endpoints)
        }

        var signatures = SignaturePolicy.notRequired
        if config.plugins.requireSignatures {
            if let trustStore {
                signatures = .required(trustStore: trustStore)
            } else {
                let location = config.plugins.location.file.isEmpty ? "" : "\(config.plugins.location): "
                problems.append("\(location)plugins.require_signatures: signatures are required but the gateway was given no trust store; pass one to Gateway(trustStore:), or start it with `jester run`, which uses the data directory's")
            }
        }
        let plugins = PluginCache(previous: previousPlugins, signatures: signatures)
        let catalog = PluginCatalog(searchPaths: config.plugins.searchPaths)
        var entries: [Router.Entry] = []
        for route in config.routes {
            let action: CompiledRoute.Action
            switch route.action {
            case .upstream(let name):
                guard let group = groups[name] else {
                    problems.append("route '\(route.name)': no upstream named '\(name)'")
                    continue
                }
                action = .proxy(group)
            case .respond(let fixed):
                action = .respond(StaticResponse(fixed))
            case .plugin(let handler):
                do {
                    let bundle = try PluginBundle.read(from: handler.plugin, maxModuleBytes: core.pluginHost.configuration.limits.maxModuleBytes)
                    let plugin = try plugins.load(bundle, config: handler.config, host: core.pluginHost)
                    var headers = HTTPHeadersBuilder.make(handler.headers)
                    if !headers.contains(name: "content-type") { headers.add(name: "content-type", value: "text/plain; charset=utf-8") }
                    action = .plugin(PluginRoute(plugin: plugin, export: handler.export, headers: headers, name: handler.plugin))
                } catch {
                    problems.append("route '\(route.name)': cannot load plugin \(handler.plugin): \(error)")
                    continue
                }
            }
            let builder = FilterBuilder(
                route: route, config: config, catalog: catalog, allowUnsafeDylib: allowUnsafeDylib, logger: core.logger,
                eventLoopGroup: group, states: states, loadPlugin: { try plugins.load($0, config: $1, host: self.core.pluginHost) })
            let filters = builder.build(problems: &problems)
            do {
                entries.append(
                    Router.Entry(
                        route: CompiledRoute(name: route.name, action: action, filters: filters),
                        hosts: route.matchers.hosts.map(HostPattern.init),
                        pathPrefix: route.matchers.pathPrefix,
                        methods: route.matchers.methods.map { $0.uppercased() },
                        headers: try route.matchers.headers.map(CompiledHeaderMatcher.init),
                        listeners: route.listeners
                    ))
            } catch {
                problems.append("route '\(route.name)': invalid header regex: \(error)")
            }
        }
        if !problems.isEmpty { throw GatewayError.invalidConfig(problems) }
        let table = RoutingTable(generation: generation, config: config, router: Router(entries: entries), upstreams: groups)
        return (table, plugins.loaded)
    }
}

// MARK: the admin API

extension Gateway {
    /// How long in-flight admin requests get to finish when the admin socket closes.
    static let adminDrainGrace = TimeAmount.seconds(1)

    /// The admin endpoints, answered from this gateway's state.
    var adminRoutes: AdminRoutes {
        var reload: (@Sendable () async -> AdminResponse)?
        if reloadConfig != nil { reload = { await self.reloadFromAdmin() } }
        return AdminRoutes(
            status: { self.statusDocument() },
            serving: { self.state.withLockedValue { $0.started && !$0.stopping } },
            reload: reload
        )
    }

    /// `GET /status`: the gateway, its listeners and routes, traffic counters and every plugin.
    /// docs/admin.md lists the fields; keys are stable and snake_case.
    func statusDocument() -> JSONValue {
        let (config, generation, startedAt, stopping, listeners, admin, plugins) = state.withLockedValue { state in
            (
                state.config, state.generation, state.startedAt, state.stopping,
                state.listeners.map { ($0.config.name, $0.localAddress) },
                state.admin.map { ($0.config, $0.localAddress) },
                state.plugins.map { ($0.key.path, $0.value) }
            )
        }
        let statuses: [(path: String, status: PluginStatus)] = plugins.map { ($0.0, $0.1.status) }.sorted {
            ($0.status.id, $0.path) < ($1.status.id, $1.path)
        }
        let degraded = statuses.contains { $0.status.state != .ready }
        var uptime = 0.0
        if let startedAt { uptime = (Self.seconds(ContinuousClock.now - startedAt) * 1000).rounded() / 1000 }
        let boundAddresses = Dictionary(listeners, uniquingKeysWith: { first, _ in first })
        let listenerList: [JSONValue] = config.listeners.map { listener in
            let bound: SocketAddress? = boundAddresses[listener.name] ?? nil
            return .object([
                ("name", .string(listener.name)),
                ("bind", .string(listener.bind.description)),
                ("address", Self.json(bound)),
                ("tls", .bool(listener.tls != nil)),
                ("h2c", .bool(listener.h2c)),
            ])
        }
        var adminJSON = JSONValue.null
        if let admin {
            let (adminConfig, address) = admin
            adminJSON = .object([
                ("listen", .string(adminConfig.listen.description)),
                ("address", Self.json(address)),
                ("token_required", .bool(adminConfig.token != nil)),
            ])
        }
        let routes: JSONValue = .object([
            ("count", Self.json(config.routes.count)),
            ("names", .array(config.routes.map { JSONValue.string($0.name) })),
        ])
        let statistics = self.statistics
        let requests: JSONValue = .object([
            ("total", Self.json(statistics.requests)),
            ("upstream", Self.json(statistics.upstreamRequests)),
            ("upstream_reused_connections", Self.json(statistics.reusedUpstreamRequests)),
            ("upstream_connections_opened", Self.json(statistics.upstreamConnectionsOpened)),
        ])
        var members: [(key: String, value: JSONValue)] = []
        members.append(("status", .string(degraded ? "degraded" : "ok")))
        members.append(("shutting_down", .bool(stopping)))
        members.append(("generation", Self.json(generation)))
        members.append(("uptime_seconds", .double(uptime)))
        members.append(("config_file", config.files.first.map { JSONValue.string($0) } ?? .null))
        members.append(("listeners", .array(listenerList)))
        members.append(("admin", adminJSON))
        members.append(("routes", routes))
        members.append(("requests", requests))
        members.append(("plugins", .array(statuses.map { Self.json($0.status, module: $0.path) })))
        return .object(members)
    }

    /// One plugin in `GET /status`.
    static func json(_ status: PluginStatus, module: String) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        members.append(("id", .string(status.id)))
        members.append(("version", .string(status.version.description)))
        members.append(("abi", .string(status.abi.description)))
        members.append(("state", .string(status.state.description)))
        members.append(("module", .string(module)))
        members.append(("sha256", .string(status.sha256)))
        members.append(("calls", json(status.calls)))
        members.append(("errors", json(status.errors)))
        members.append(("traps", json(status.traps)))
        members.append(("timeouts", json(status.timeouts)))
        members.append(("busy_rejections", json(status.busyRejections)))
        members.append(("active_calls", json(status.activeCalls)))
        members.append(("idle_instances", json(status.idleInstances)))
        members.append(("instances_created", json(status.instancesCreated)))
        members.append(("fuel_consumed", .integer(Int64(clamping: status.fuelConsumed))))
        members.append(("time_spent_ms", .double((seconds(status.timeSpent) * 1_000_000).rounded() / 1000)))
        members.append(("peak_memory_bytes", json(status.peakMemoryBytes)))
        members.append(("last_error", status.lastError.map { JSONValue.string($0) } ?? .null))
        return .object(members)
    }

    private static func json(_ number: Int) -> JSONValue { .integer(Int64(number)) }

    private static func json(_ address: SocketAddress?) -> JSONValue {
        address.map { JSONValue.string(format($0)) } ?? .null
    }

    /// A duration in seconds, to the microsecond.
    static func seconds(_ duration: Duration) -> Double {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return (seconds * 1_000_000).rounded() / 1_000_000
    }

    /// `POST /reload`: the same as a reload by signal (load the config again, then ``reload(_:)``),
    /// answered with the new generation, or with every problem and the old config still serving.
    func reloadFromAdmin() async -> AdminResponse {
        guard let reloadConfig else { return .text(.notFound, "404 not found") }
        core.logger.notice("admin API: reloading the configuration")
        let running = state.withLockedValue { $0.generation }
        let refused = "reload refused; the running configuration (generation \(running)) keeps serving:\n"
        let newConfig: GatewayConfig
        do {
            newConfig = try await reloadConfig()
        } catch {
            core.logger.error("reload refused; the running configuration keeps serving:\n\(error)")
            return .text(.unprocessableEntity, refused + "\(error)")
        }
        do {
            try await reload(newConfig)
        } catch {
            core.logger.error("reload refused; the running configuration keeps serving:\n\(error)")
            let status: HTTPResponseStatus
            switch (error as? GatewayError)?.kind {
            case .reloadInProgress?: status = .conflict
            case .bind?: status = .internalServerError
            default: status = .unprocessableEntity
            }
            return .text(status, refused + "\(error)")
        }
        let generation = state.withLockedValue { $0.generation }
        let answer: [(key: String, value: JSONValue)] = [
            ("status", .string("reloaded")), ("generation", .integer(Int64(generation))),
        ]
        return .json(.object(answer))
    }

    /// `127.0.0.1:8080`, `[::1]:8080`.
    static func format(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// The plugins one routing table uses. A plugin with the same module bytes, path and config as
/// one the previous table used is that same plugin, warm instances and all; a changed file or
/// config makes a new one, and the old one serves its requests in flight until they finish.
///
/// When signatures are required, every plugin is verified on every build, reused or not, so that a
/// manifest whose signature went away, or a key removed from the trust store, takes effect on reload.
final class PluginCache {
    private let previous: [Gateway.PluginKey: Plugin]
    private let signatures: SignaturePolicy
    private(set) var loaded: [Gateway.PluginKey: Plugin] = [:]

    init(previous: [Gateway.PluginKey: Plugin], signatures: SignaturePolicy = .notRequired) {
        self.previous = previous
        self.signatures = signatures
    }

    func load(_ bundle: PluginBundle, config: [String: String], host: PluginHost) throws -> Plugin {
        try PluginSignature.verify(bundle, policy: signatures)
        let key = Gateway.PluginKey(path: bundle.modulePath, config: config, wasm: bundle.wasm)
        if let plugin = loaded[key] ?? previous[key] {
            loaded[key] = plugin
            return plugin
        }
        let plugin = try host.makePlugin(manifest: bundle.manifest, wasm: bundle.wasm, config: config)
        loaded[key] = plugin
        return plugin
    }
}

enum HTTPHeadersBuilder {
    static func make(_ fields: [HeaderField]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for field in fields { headers.add(name: field.name, value: field.value) }
        return headers
    }
}

/// State every connection of the gateway shares.
final class GatewayCore: Sendable {
    private let table: NIOLockedValueBox<RoutingTable>
    let statistics = GatewayStatistics()
    let pools: PoolRegistry
    let logger: Logger
    private let accessLog: Logger
    let pluginHost: PluginHost

    init(table: RoutingTable, logger: Logger, accessLogger: Logger, pluginHost: PluginHost) {
        self.table = NIOLockedValueBox(table)
        self.logger = logger
        accessLog = accessLogger
        self.pluginHost = pluginHost
        pools = PoolRegistry(statistics: statistics)
    }

    var currentTable: RoutingTable { table.withLockedValue { $0 } }

    func swap(_ new: RoutingTable) { table.withLockedValue { $0 = new } }

    /// The access logger, when the current config enables access logs.
    var accessLogger: Logger? { currentTable.config.accessLog.enabled ? accessLog : nil }
}

/// Why the gateway could not start or reload.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    enum Code: Sendable { case bind, tls, config, reloadInProgress }
    private let code: Code
    /// What kind of failure, for the admin API's status codes.
    var kind: Code { code }
    public let description: String
    /// Each problem on its own (several for a config whose routes or filters do not build; one
    /// otherwise), as `FILE:LINE: where: what`.
    public let problems: [String]

    private init(_ code: Code, _ description: String, problems: [String]? = nil) {
        self.code = code
        self.description = description
        self.problems = problems ?? [description]
    }

    static func bindFailed(listener: String, address: String, reason: String) -> GatewayError {
        GatewayError(.bind, "listener '\(listener)': cannot listen on \(address): \(reason). Is another process using the port, or does it need privileges?")
    }

    static func adminBindFailed(address: String, location: SourceLocation, reason: String) -> GatewayError {
        let at = location.file.isEmpty ? "" : "\(location): "
        return GatewayError(
            .bind,
            "\(at)admin.listen: the admin API cannot listen on \(address): \(reason). "
                + "Is another process (another gateway?) using the port? Pick another port in [admin] listen"
        )
    }

    static func tls(listener: String, reason: String) -> GatewayError {
        GatewayError(.tls, "listener '\(listener)': \(reason)")
    }

    static func invalidConfig(_ problems: [String]) -> GatewayError {
        GatewayError(
            .config, problems.count == 1 ? problems[0] : "\(problems.count) problems:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"),
            problems: problems)
    }

    static let reloadInProgress = GatewayError(.reloadInProgress, "a reload is already in progress; try again when it finishes")
}

/// A one-shot signal that any number of tasks can wait for.
final class StopSignal: Sendable {
    private let state = NIOLockedValueBox<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLockedValue { state -> Bool in
                if state.fired { return true }
                state.waiters.append(continuation)
                return false
            }
            if fired { continuation.resume() }
        }
    }
}
