#include "http/etag.hpp"

namespace spamsink::http {

bool etag_matches(std::string_view header, std::string_view etag) {
  std::size_t pos = 0;
  while (pos <= header.size()) {
    std::size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (!item.empty() && (item == "*" || item == etag)) return true;
    pos = comma + 1;
  }
  return false;
}

}  // namespace spamsink::http
