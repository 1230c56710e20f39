#include "http/transport.h"

namespace dynatroni::http {

Status Request::SetUrl(std::string_view url, std::string_view field) {
  DYNATRONI_ASSIGN_OR_RETURN(Url parsed, ParseUrl(url, field));
  endpoint = OriginOf(parsed);
  target = RequestTarget(parsed);
  return Status::Ok();
}

std::string_view Response::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

}  // namespace dynatroni::http
