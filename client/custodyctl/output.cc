#include "client/custodyctl/output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace custody::client {

Terminal Terminal::Detect(bool no_color_flag) {
  Terminal t;
  t.stdout_tty_ = ::isatty(STDOUT_FILENO) == 1;
  t.stderr_tty_ = ::isatty(STDERR_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  t.colour_ = t.stdout_tty_ && !no_color_flag && (no_color == nullptr || *no_color == '\0') &&
              !(term != nullptr && std::strcmp(term, "dumb") == 0);
  if (t.stdout_tty_) {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) t.width_ = ws.ws_col;
  }
  return t;
}

std::string Terminal::Paint(std::string_view text, Style style) const {
  if (!colour_ || style == Style::kNone) return std::string(text);
  const char* code = "";
  switch (style) {
    case Style::kBold:
      code = "1";
      break;
    case Style::kDim:
      code = "2";
      break;
    case Style::kRed:
      code = "31";
      break;
    case Style::kBoldRed:
      code = "1;31";
      break;
    case Style::kYellow:
      code = "33";
      break;
    case Style::kGreen:
      code = "32";
      break;
    case Style::kCyan:
      code = "36";
      break;
    case Style::kNone:
      break;
  }
  return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

Style SeverityStyle(std::string_view severity) {
  if (severity == "critical") return Style::kBoldRed;
  if (severity == "high") return Style::kRed;
  if (severity == "medium") return Style::kYellow;
  if (severity == "low") return Style::kCyan;
  return Style::kNone;
}

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

namespace {

// The first `width` code points of `s`, with "…" when it was cut.
std::string Shorten(const std::string& s, size_t width) {
  if (DisplayWidth(s) <= width) return s;
  if (width == 0) return "";
  std::string out;
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (seen == width - 1) break;
      ++seen;
    }
    out += s[i];
  }
  return out + "\xE2\x80\xA6";
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells, std::vector<Style> styles) {
  cells.resize(headers_.size());
  styles.resize(headers_.size(), Style::kNone);
  rows_.push_back({std::move(cells), std::move(styles)});
}

void Table::Print(const Terminal& term, std::FILE* out, bool header,
                  std::vector<size_t>* sticky) const {
  const size_t n = headers_.size();
  std::vector<size_t> widths(n);
  for (size_t c = 0; c < n; ++c) widths[c] = DisplayWidth(headers_[c]);
  for (const Row& r : rows_) {
    for (size_t c = 0; c < n; ++c) widths[c] = std::max(widths[c], DisplayWidth(r.cells[c]));
  }
  if (sticky != nullptr) {
    sticky->resize(n, 0);
    for (size_t c = 0; c < n; ++c) widths[c] = std::max(widths[c], (*sticky)[c]);
  }
  // Shrink the widest column until the table fits the terminal.
  if (term.width() > 0 && n > 0) {
    size_t total = 0;
    for (size_t w : widths) total += w;
    total += 2 * (n - 1);
    const size_t limit = static_cast<size_t>(term.width());
    while (total > limit) {
      auto widest = std::max_element(widths.begin(), widths.end());
      if (*widest <= 12) break;
      --*widest;
      --total;
    }
  }
  auto line = [&](const std::vector<std::string>& cells, const std::vector<Style>& styles,
                  bool header) {
    std::string text;
    for (size_t c = 0; c < n; ++c) {
      std::string cell = Shorten(cells[c], widths[c]);
      const size_t pad = c + 1 == n ? 0 : widths[c] - DisplayWidth(cell);
      Style style = header ? Style::kBold : styles[c];
      text += term.Paint(cell, style);
      text.append(pad, ' ');
      if (c + 1 < n) text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    text += '\n';
    std::fputs(text.c_str(), out);
  };
  if (sticky != nullptr) *sticky = widths;
  if (header) line(headers_, {}, true);
  for (const Row& r : rows_) line(r.cells, r.styles, false);
}

void KeyValues::Add(std::string key, std::string value, Style style) {
  keys_.push_back(std::move(key));
  values_.push_back(std::move(value));
  styles_.push_back(style);
}

void KeyValues::Print(const Terminal& term, std::FILE* out) const {
  size_t width = 0;
  for (const auto& k : keys_) width = std::max(width, DisplayWidth(k));
  for (size_t i = 0; i < keys_.size(); ++i) {
    std::string text = term.Paint(keys_[i], Style::kBold);
    text.append(width - DisplayWidth(keys_[i]) + 2, ' ');
    text += term.Paint(values_[i], styles_[i]);
    text += '\n';
    std::fputs(text.c_str(), out);
  }
}

void PrintLine(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace custody::client
