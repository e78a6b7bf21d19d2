//! The OpenAPI document of the query API, served at `/api/v1/openapi.json`.

pub const DOCUMENT: &str = r##"{
  "openapi": "3.1.0",
  "info": {
    "title": "logpipe query API",
    "version": "1",
    "description": "Search, aggregate, export and tail Kubernetes log events. Queries use the Lucene-style search language (k8s.namespace:shop AND level:error). With tokens configured, every path except this document needs `Authorization: Bearer <token>` and sees only the token's namespaces. Errors are {\"error\": \"...\"} with a 4xx or 5xx status; query syntax errors add the character `position`."
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "parameters": {
      "q": {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Query; empty matches every event."},
      "since": {"name": "since", "in": "query", "schema": {"type": "string", "default": "15m"}, "description": "Start of the range: relative to `to` (15m, 24h, 7d) or RFC 3339."},
      "from": {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "Start of the range (inclusive), instead of `since`."},
      "to": {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "End of the range (exclusive); now by default."}
    },
    "schemas": {
      "LogEvent": {"type": "object", "description": "The event contract (v1): v, id, ts, observed_ts, level, message, stream, k8s, source, attributes, flags.", "additionalProperties": true},
      "Error": {"type": "object", "properties": {"error": {"type": "string"}, "position": {"type": "integer"}}, "required": ["error"]},
      "FailedShard": {"type": "object", "properties": {"shard": {"type": "string"}, "error": {"type": "string"}}},
      "SearchAnswer": {"type": "object", "properties": {
        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/LogEvent"}},
        "total": {"type": "integer"}, "took_ms": {"type": "integer"},
        "cursor": {"type": ["string", "null"]}, "partial": {"type": "boolean"},
        "failed_shards": {"type": "array", "items": {"$ref": "#/components/schemas/FailedShard"}}}},
      "HistogramAnswer": {"type": "object", "properties": {
        "buckets": {"type": "array", "items": {"type": "object", "properties": {"ts": {"type": "string", "format": "date-time"}, "count": {"type": "integer"}}}},
        "interval": {"type": "string"}, "interval_ms": {"type": "integer"},
        "from": {"type": "string"}, "to": {"type": "string"},
        "total": {"type": "integer"}, "took_ms": {"type": "integer"}, "partial": {"type": "boolean"},
        "failed_shards": {"type": "array", "items": {"$ref": "#/components/schemas/FailedShard"}}}},
      "ValuesAnswer": {"type": "object", "properties": {
        "field": {"type": "string"},
        "values": {"type": "array", "items": {"type": "object", "properties": {"value": {}, "count": {"type": "integer"}}}},
        "total": {"type": "integer"}, "took_ms": {"type": "integer"}, "partial": {"type": "boolean"},
        "failed_shards": {"type": "array", "items": {"$ref": "#/components/schemas/FailedShard"}}}}
    },
    "responses": {
      "BadRequest": {"description": "Invalid query or parameter.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "Missing or unknown bearer token.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "MisdirectedRequest": {"description": "The request's Host is not one this service answers: without tokens only loopback names and LOGPIPE_QUERY_ALLOWED_HOSTS are (a defence against DNS rebinding).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unavailable": {"description": "The search passed its time limit.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TailUnavailable": {"description": "As many live tails are open as LOGPIPE_QUERY_MAX_TAIL_SUBSCRIBERS allows, or Kafka cannot be reached; the error says which.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/api/v1/search": {"get": {
      "summary": "Matching events, newest first, one page at a time: at most `limit` hits and at most LOGPIPE_QUERY_MAX_PAGE_BYTES of them; a page that reaches the byte bound ends early with a cursor.",
      "parameters": [{"$ref": "#/components/parameters/q"}, {"$ref": "#/components/parameters/since"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "The `cursor` of the previous page."},
        {"name": "total", "in": "query", "schema": {"type": "boolean", "default": true}, "description": "false skips counting every match; total is then 0."}],
      "responses": {"200": {"description": "A page of hits.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchAnswer"}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "421": {"$ref": "#/components/responses/MisdirectedRequest"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/histogram": {"get": {
      "summary": "Matching events counted per time bucket.",
      "parameters": [{"$ref": "#/components/parameters/q"}, {"$ref": "#/components/parameters/since"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"name": "interval", "in": "query", "schema": {"type": "string"}, "description": "Bucket width (1m, 1h); chosen from the range when absent."}],
      "responses": {"200": {"description": "Buckets oldest first.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HistogramAnswer"}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "421": {"$ref": "#/components/responses/MisdirectedRequest"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/fields/{field}/values": {"get": {
      "summary": "The most frequent values of a keyword field or attribute among matching events.",
      "parameters": [{"name": "field", "in": "path", "required": true, "schema": {"type": "string"}, "description": "level, stream, k8s.namespace, k8s.pod, k8s.container, k8s.node, k8s.pod_uid, source.kind, source.name, source.via, flags, id or attributes.<path>."},
        {"$ref": "#/components/parameters/q"}, {"$ref": "#/components/parameters/since"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 10}}],
      "responses": {"200": {"description": "Values by count.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValuesAnswer"}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "421": {"$ref": "#/components/responses/MisdirectedRequest"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/events/{id}": {"get": {
      "summary": "One event by id (a permalink).",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}],
      "responses": {"200": {"description": "The event.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LogEvent"}}}},
        "404": {"description": "No such event in the caller's namespaces."}, "401": {"$ref": "#/components/responses/Unauthorized"}, "421": {"$ref": "#/components/responses/MisdirectedRequest"}}}},
    "/api/v1/export": {"get": {
      "summary": "Every matching event as newline-delimited JSON, newest first, streamed.",
      "parameters": [{"$ref": "#/components/parameters/q"}, {"$ref": "#/components/parameters/since"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}],
      "responses": {"200": {"description": "One LogEvent per line.", "content": {"application/x-ndjson": {}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "421": {"$ref": "#/components/responses/MisdirectedRequest"}}}},
    "/api/v1/tail": {"get": {
      "summary": "Matching events as they reach Kafka, as server-sent events (`event: event`, data: the LogEvent JSON). A client that falls more than LOGPIPE_QUERY_TAIL_BUFFER_BYTES behind loses the oldest and gets `event: lagged`, data {\"missed\": N}. When the service stops, the stream ends with `event: end`, data {\"reason\": \"...\"}.",
      "parameters": [{"$ref": "#/components/parameters/q"}],
      "responses": {"200": {"description": "An event stream.", "content": {"text/event-stream": {}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "421": {"$ref": "#/components/responses/MisdirectedRequest"}, "503": {"$ref": "#/components/responses/TailUnavailable"}}}},
    "/api/v1/openapi.json": {"get": {"summary": "This document.", "security": [], "responses": {"200": {"description": "OpenAPI 3.1."}, "421": {"$ref": "#/components/responses/MisdirectedRequest"}}}}
  }
}"##;

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_json_and_names_every_route() {
        let document: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        for path in [
            "/api/v1/search",
            "/api/v1/histogram",
            "/api/v1/fields/{field}/values",
            "/api/v1/events/{id}",
            "/api/v1/export",
            "/api/v1/tail",
            "/api/v1/openapi.json",
        ] {
            let responses = &document["paths"][path]["get"]["responses"];
            assert!(responses.is_object(), "{path}");
            // Every route checks the Host first.
            assert!(responses["421"].is_object(), "{path} lists no 421");
            if path != "/api/v1/openapi.json" {
                assert!(responses["401"].is_object(), "{path} lists no 401");
            }
        }
        for path in ["/api/v1/search", "/api/v1/histogram", "/api/v1/tail"] {
            assert!(
                document["paths"][path]["get"]["responses"]["503"].is_object(),
                "{path} lists no 503"
            );
        }
        // Every reference resolves.
        let text = super::DOCUMENT;
        for reference in text.split("\"$ref\": \"#/").skip(1) {
            let pointer = format!("/{}", &reference[..reference.find('"').unwrap()]);
            assert!(document.pointer(&pointer).is_some(), "{pointer}");
        }
    }
}
