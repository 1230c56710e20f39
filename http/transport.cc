#include "http/transport.h"

namespace dynatroni::http {

std::string_view Response::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

}  // namespace dynatroni::http
