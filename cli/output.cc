#include "cli/output.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <ostream>

namespace dynatroni::cli {

size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes only
  }
  return n;
}

TextTable::TextTable(std::vector<std::string> headers)
    : headers_(std::move(headers)), right_(headers_.size(), false) {}

void TextTable::AlignRight(size_t col) {
  if (col < right_.size()) right_[col] = true;
}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void TextTable::Print(std::ostream& out, const std::string& indent) const {
  std::vector<size_t> width(headers_.size(), 0);
  bool any_header = false;
  for (size_t c = 0; c < headers_.size(); ++c) {
    width[c] = DisplayWidth(headers_[c]);
    any_header = any_header || !headers_[c].empty();
  }
  for (const auto& r : rows_) {
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], DisplayWidth(r[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = indent;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) s += "  ";
      size_t pad = width[c] - DisplayWidth(cells[c]);
      if (right_[c]) {
        s += std::string(pad, ' ') + cells[c];
      } else {
        s += cells[c] + std::string(pad, ' ');
      }
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  if (any_header) line(headers_);
  for (const auto& r : rows_) line(r);
}

std::string FormatDuration(Duration d) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  int64_t ms = duration_cast<milliseconds>(d).count();
  return FormatMillis(ms);
}

std::string FormatMillis(int64_t ms) {
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  char buf[64];
  if (ms < 1000) {
    std::snprintf(buf, sizeof(buf), "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof(buf), "%lldm %02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>((ms / 1000) % 60));
  } else if (ms < 86'400'000) {
    std::snprintf(buf, sizeof(buf), "%lldh %02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>((ms / 60'000) % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd %02lldh", static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>((ms / 3'600'000) % 24));
  }
  return sign + buf;
}

std::string FormatEpochMillis(int64_t epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000);
  int64_t frac = epoch_ms - static_cast<int64_t>(secs) * 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

int64_t EpochMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string FormatFixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string FormatDollars(double v) {
  if (v != 0 && std::fabs(v) < 0.01) return "$" + FormatFixed(v, 4);
  return "$" + FormatFixed(v, 2);
}

std::string Truncate(const std::string& s, size_t max) {
  if (DisplayWidth(s) <= max) return s;
  if (max <= 3) return std::string(max, '.');
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    if (n + 1 > max - 3) break;
    out += s.substr(i, len);
    i += len;
    ++n;
  }
  return out + "...";
}

void PrintJson(std::ostream& out, const nlohmann::json& j, bool compact) {
  // Invalid UTF-8 from the table is replaced rather than thrown.
  out << j.dump(compact ? -1 : 2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace dynatroni::cli
