import JesterConfig
import Logging
import NIOCore
import NIOHTTP1

/// One entry of a route's filter list, ready to run.
struct FilterStage: Sendable {
    let filter: any GatewayFilter
    /// `builtin:headers`, `wasm:auth`, `dylib:redact`: for logs, errors and the access log.
    let label: String
    let failurePolicy: FilterConfig.FailurePolicy
    /// For response filters: also run on the gateway's own error answers.
    let runOnErrors: Bool
}

/// A route's request and response filters, compiled when the routing table is built.
final class FilterChain: Sendable {
    let requestStages: [FilterStage]
    let responseStages: [FilterStage]
    /// Whether some filter needs the whole request body before the request phase.
    let buffersRequestBody: Bool
    /// Whether some response filter needs the whole response body before the response phase.
    let buffersResponseBody: Bool
    /// The most a buffered body may hold: the smallest limit of the filters that buffer.
    let maxRequestBufferBytes: Int
    let maxResponseBufferBytes: Int
    let logger: Logger

    /// - Parameters:
    ///   - requestStages: `filters`, in order. Each also runs in the response phase (its response
    ///     hook), after the `response_filters`, in reverse order: the request filters wrap the
    ///     rest like layers, the first one sees the request first and the response last.
    ///   - responseStages: `response_filters`, in order; they run in the response phase only.
    init(requestStages: [FilterStage], responseStages: [FilterStage], logger: Logger) {
        self.requestStages = requestStages
        self.responseStages = responseStages + requestStages.reversed()
        self.logger = logger
        allFilters = self.responseStages.map(\.filter)
        let requestBuffering = requestStages.map(\.filter.requirements).filter(\.bufferRequestBody)
        let responseBuffering = self.responseStages.map(\.filter.requirements).filter(\.bufferResponseBody)
        buffersRequestBody = !requestBuffering.isEmpty
        buffersResponseBody = !responseBuffering.isEmpty
        maxRequestBufferBytes = requestBuffering.map(\.maxBodyBytes).min() ?? 0
        maxResponseBufferBytes = responseBuffering.map(\.maxBodyBytes).min() ?? 0
    }

    /// The response stages that need the whole body, when every one of them is `fail_open`: a
    /// body over the buffer limit then skips them (and streams) instead of failing the response.
    /// Nil when one of them is `fail_closed`, or none buffers.
    var skippableResponseBuffering: [FilterStage]? {
        let buffering = responseStages.filter(\.filter.requirements.bufferResponseBody)
        guard !buffering.isEmpty, buffering.allSatisfy({ $0.failurePolicy == .failOpen }) else { return nil }
        return buffering
    }

    /// Every filter once, for `onFinish` (the response stages include the request stages); made
    /// once here rather than for every request.
    let allFilters: [any GatewayFilter]
}

/// Runs one request through its route's ``FilterChain``: the request phase, then the response
/// phase, each filter after the other, waiting for filters that answer later. Confined to the
/// request's event loop.
final class FilterRun {
    /// How a phase ended.
    enum Outcome {
        /// Every filter passed the exchange on.
        case proceed
        /// A filter answered (request phase) or replaced the response (response phase).
        case respond(FilterResponse)
        /// A filter with `fail_closed` failed.
        case fail(GatewayFailure)
    }

    let chain: FilterChain
    let exchange: FilterExchange
    private var finished = false
    /// Set when the run is abandoned (the client went away); pending verdicts are ignored.
    private var cancelled = false
    /// Set when the response body outgrew the buffer of `fail_open` filters that wanted it whole:
    /// the response phase runs without them.
    var skipsResponseBuffering = false

    init(chain: FilterChain, exchange: FilterExchange) {
        self.chain = chain
        self.exchange = exchange
    }

    /// Runs the request filters; `completion` is called once, synchronously when no filter waits.
    func runRequestPhase(_ completion: @escaping (Outcome) -> Void) {
        run(chain.requestStages, index: 0, request: true, completion)
    }

    /// Runs the response filters on the response in ``exchange``; on gateway errors only those
    /// that set `run_on_errors`.
    func runResponsePhase(_ completion: @escaping (Outcome) -> Void) {
        var stages = exchange.responseOrigin == .gatewayError ? chain.responseStages.filter(\.runOnErrors) : chain.responseStages
        if skipsResponseBuffering { stages.removeAll(where: \.filter.requirements.bufferResponseBody) }
        run(stages, index: 0, request: false, completion)
    }

    private func run(_ stages: [FilterStage], index: Int, request: Bool, _ completion: @escaping (Outcome) -> Void) {
        var index = index
        while index < stages.count {
            guard !cancelled else { return }
            let stage = stages[index]
            let verdict = request ? stage.filter.onRequest(exchange) : stage.filter.onResponse(exchange)
            switch settle(verdict, stage: stage) {
            case .next:
                index += 1
            case .stop(let outcome):
                completion(outcome)
                return
            case .wait(let future):
                runWaiting(future, stages: stages, index: index, request: request, completion)
                return
            }
        }
        completion(.proceed)
    }

    private func runWaiting(_ future: EventLoopFuture<FilterVerdict>, stages: [FilterStage], index: Int, request: Bool, _ completion: @escaping (Outcome) -> Void) {
        future.hop(to: exchange.eventLoop).assumeIsolated().whenComplete { result in
            guard !self.cancelled else { return }
            let verdict: FilterVerdict
            switch result {
            case .success(let later): verdict = later
            case .failure(let error): verdict = .failed(FilterFailure(String(describing: error)))
            }
            switch self.settle(verdict, stage: stages[index]) {
            case .next: self.run(stages, index: index + 1, request: request, completion)
            case .stop(let outcome): completion(outcome)
            case .wait(let again): self.runWaiting(again, stages: stages, index: index, request: request, completion)
            }
        }
    }

    private enum Step {
        case next
        case stop(Outcome)
        case wait(EventLoopFuture<FilterVerdict>)
    }

    private func settle(_ verdict: FilterVerdict, stage: FilterStage) -> Step {
        switch verdict {
        case .proceed:
            return .next
        case .respond(let response):
            return .stop(.respond(response))
        case .later(let future):
            return .wait(future)
        case .failed(let failure):
            switch stage.failurePolicy {
            case .failOpen:
                chain.logger.warning(
                    "filter failed; skipped (fail_open)",
                    metadata: ["route": .string(exchange.route), "filter": .string(stage.label), "error": .string(failure.message)]
                )
                return .next
            case .failClosed:
                let kind: GatewayFailure.Kind = failure.unavailable
                    ? .filterUnavailable(filter: stage.label, failure.message) : .filterFailed(filter: stage.label, failure.message)
                return .stop(.fail(GatewayFailure(kind, route: exchange.route)))
            }
        }
    }

    /// Ends the run: every filter's `onFinish`, once. Verdicts still pending are ignored.
    func finish() {
        guard !finished else { return }
        finished = true
        cancelled = true
        for filter in chain.allFilters { filter.onFinish(exchange) }
    }
}
