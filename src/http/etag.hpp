// http/etag: If-None-Match against one ETag (RFC 9110 §13.1.2).
//
// Purpose: let the dashboard answer 304 when the browser already holds the
// asset. Pure (no HTTP library), so fuzz_http drives it directly.
// Invariants: the header is a comma-separated list of entity tags, each
// compared weakly (a W/ prefix is ignored) and byte for byte; "*" matches
// anything. Never reads past the header; no allocation.
// Limits: none beyond the header, which httplib caps (8 KiB per line).
#pragma once

#include <string_view>

namespace spamsink::http {

// True when the If-None-Match `header` lists `etag` (quoted, e.g.
// "\"abc\"") or is "*".
bool etag_matches(std::string_view header, std::string_view etag);

}  // namespace spamsink::http
