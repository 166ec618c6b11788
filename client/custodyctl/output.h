// How custodyctl prints: tables for people, JSON for programs.
//
// Every listing honours -o/--output:
//   table   aligned columns with a header (the default); colour only when
//           stdout is a terminal and NO_COLOR is unset and TERM is not "dumb"
//   json    exactly one JSON document on stdout
//   ndjson  one JSON object per line (entries byte-exact as the log holds them)
// Diagnostics, progress lines and hints go to stderr, never into the data.
//
// Thread safety: none needed; the CLI is single-threaded.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_OUTPUT_H_
#define CUSTODY_CLIENT_CUSTODYCTL_OUTPUT_H_

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace custody::client {

enum class Format { kTable, kJson, kNdjson };

enum class Style { kNone, kBold, kDim, kRed, kBoldRed, kYellow, kGreen, kCyan };

class Terminal {
 public:
  // Looks at the real stdout/stderr and the environment.
  static Terminal Detect(bool no_color_flag);
  // For tests: no terminal, no colour.
  static Terminal Plain() { return Terminal(); }

  bool stdout_tty() const { return stdout_tty_; }
  bool stderr_tty() const { return stderr_tty_; }
  bool colour() const { return colour_; }
  int width() const { return width_; }  // columns of stdout; 0 when not a terminal

  // `text` wrapped in the ANSI sequence for `style` when colour is on.
  std::string Paint(std::string_view text, Style style) const;

 private:
  bool stdout_tty_ = false;
  bool stderr_tty_ = false;
  bool colour_ = false;
  int width_ = 0;
};

// The style for a severity name ("critical", "high", ...).
Style SeverityStyle(std::string_view severity);

// A table printed with aligned columns. Cells are plain text; a cell's style
// is applied after padding so escape codes never disturb alignment. On a
// terminal the widest column is shortened (with "…") to fit the width.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells, std::vector<Style> styles = {});
  size_t rows() const { return rows_.size(); }
  // Without `header` only the rows are printed (a follow stream's later
  // batches). `sticky` (may be null) carries column widths from one call to
  // the next so a stream's rows stay aligned: columns are at least that wide,
  // and it is updated to the widths used.
  void Print(const Terminal& term, std::FILE* out = stdout, bool header = true,
             std::vector<size_t>* sticky = nullptr) const;

 private:
  struct Row {
    std::vector<std::string> cells;
    std::vector<Style> styles;
  };
  std::vector<std::string> headers_;
  std::vector<Row> rows_;
};

// Display width of UTF-8 text (code points; good enough for our columns).
size_t DisplayWidth(std::string_view s);

// Prints "key  value" lines with the keys aligned (status, checkpoint, prove).
class KeyValues {
 public:
  void Add(std::string key, std::string value, Style style = Style::kNone);
  void Print(const Terminal& term, std::FILE* out = stdout) const;

 private:
  std::vector<std::string> keys_, values_;
  std::vector<Style> styles_;
};

// Writes `text` and a newline to stdout (for JSON documents and NDJSON lines).
void PrintLine(std::string_view text);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_OUTPUT_H_
