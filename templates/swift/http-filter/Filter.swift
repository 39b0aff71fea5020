// header-filter: a gateway filter in Embedded Swift. `onRequest` runs before the upstream, with the
// request to edit; `onResponse` after it, with both. Return `.respond` from `onRequest` to answer
// the client yourself (set the status, headers and body on `response` first).
//
//   jester plugin build && jester plugin test
//
// In a gateway config:
//   [[routes.filters]]
//   type = "wasm"
//   plugin = "path/to/header-filter"
//   config = { tag = "edge-1" }

extension Plugin {
    static func onRequest(_ request: Request, _ response: Response) -> FilterAction {
        request.setHeader("x-filter", tag)
        // Where the client asked to go, for the upstream's logs (the path may be rewritten later).
        request.setHeader("x-original-path", request.path)
        return .continue
    }

    static func onResponse(_ request: Request, _ response: Response) -> FilterAction {
        response.setHeader("x-filtered-by", tag)
        if Config.get("hide_server") != "false" {
            response.removeHeader("server")
            response.removeHeader("x-powered-by")
        }
        return .continue
    }

    static var tag: String { Config.get("tag") ?? "header-filter" }
}
