// custodyctl send: POST events to /v1/events in NDJSON batches, print receipts
// as each batch is acknowledged.

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/render.h"
#include "custody/ledger/checkpoint.h"
#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

struct InputEvent {
  std::string text;    // one JSON object, no newline
  std::string origin;  // "events.ndjson:12", "batch.json[3]", "stdin:1"
};

struct SendOptions {
  std::vector<std::string> files;
  size_t batch = 1000;
  unsigned retries = 5;
  bool verify = false;
};

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return s;
}

bool Blank(std::string_view s) { return TrimLeft(s).empty(); }

// Reads the inputs' events a batch at a time, so that `producer |
// custodyctl send` sends, and prints receipts, while the producer writes.
// NDJSON is read line by line; a JSON array or a single (pretty-printed)
// object is one document and is read whole once its first line shows it.
class EventSource {
 public:
  explicit EventSource(std::vector<std::string> paths) : paths_(std::move(paths)) {}

  // Appends up to `max` events to *out; fewer only at the end of the inputs.
  Status Fill(size_t max, std::vector<InputEvent>* out) {
    while (out->size() < max) {
      if (!pending_.empty()) {
        out->push_back(std::move(pending_.front()));
        pending_.pop_front();
        continue;
      }
      if (!in_) {
        if (next_path_ == paths_.size()) return Status::Ok();
        CUSTODY_RETURN_IF_ERROR(OpenNext());
      }
      std::string line;
      if (!std::getline(*in_, line)) {
        if (in_->bad()) return Status::IOError("cannot read " + name_);
        in_ = nullptr;
        file_.reset();
        continue;
      }
      ++line_no_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (Blank(line)) continue;
      if (!ndjson_) {
        CUSTODY_RETURN_IF_ERROR(FirstLine(line));
        continue;
      }
      out->push_back({std::move(line), name_ + ":" + std::to_string(line_no_)});
    }
    return Status::Ok();
  }

 private:
  Status OpenNext() {
    const std::string& path = paths_[next_path_++];
    name_ = path == "-" ? "stdin" : path;
    line_no_ = 0;
    ndjson_ = false;
    if (path == "-") {
      in_ = &std::cin;
      return Status::Ok();
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return Status::InvalidArgument(path + " is a directory, not a file");
    }
    file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*file_) {
      return Status::InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
    }
    in_ = file_.get();
    return Status::Ok();
  }

  // The input's first non-blank line says what it is: a line that is JSON
  // by itself starts NDJSON; otherwise the input is one JSON document.
  Status FirstLine(const std::string& line) {
    const std::string_view first = TrimLeft(line);
    if (first.front() != '[' && schema::ParseJson(line).ok()) {
      ndjson_ = true;
      pending_.push_back({line, name_ + ":" + std::to_string(line_no_)});
      return Status::Ok();
    }
    std::string text = line + "\n";
    text.append(std::istreambuf_iterator<char>(*in_), std::istreambuf_iterator<char>());
    if (in_->bad()) return Status::IOError("cannot read " + name_);
    in_ = nullptr;  // read to its end; Fill takes what it holds from pending_
    auto v = schema::ParseJson(text);
    if (!v.ok()) {
      const char* what = first.front() == '[' ? ": " : " is neither JSON nor NDJSON: ";
      return Status::InvalidArgument(name_ + what + v.status().message());
    }
    if (!v->is_array()) {
      pending_.push_back({json::serialize(*v), name_});
      return Status::Ok();
    }
    size_t i = 0;
    for (const json::value& e : v->as_array()) {
      pending_.push_back({json::serialize(e), name_ + "[" + std::to_string(i++) + "]"});
    }
    return Status::Ok();
  }

  std::vector<std::string> paths_;
  size_t next_path_ = 0;
  std::unique_ptr<std::ifstream> file_;
  std::istream* in_ = nullptr;  // the input being read; null between inputs
  std::string name_;            // "stdin" or the path, for origins
  size_t line_no_ = 0;
  bool ndjson_ = false;
  std::deque<InputEvent> pending_;  // events read but not handed out yet
};

// The problem of a rejected batch, its pointers ("/3/actor/id") mapped back
// to the inputs the events came from.
Status BatchFailure(Problem p, const std::vector<InputEvent>& events) {
  for (ProblemItem& e : p.errors) {
    if (e.is_parameter || e.where.size() < 2 || e.where[0] != '/') continue;
    size_t slash = e.where.find('/', 1);
    const std::string index_text =
        e.where.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    size_t index = 0;
    auto [ptr, ec] =
        std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
    if (ec != std::errc() || ptr != index_text.data() + index_text.size()) continue;
    if (index >= events.size()) continue;
    const std::string rest = slash == std::string::npos ? "" : e.where.substr(slash);
    e.where = events[index].origin + " " + (rest.empty() ? "(event)" : rest);
    // The server numbers lines within its request; the origin says it better.
    if (e.message.starts_with("line ")) {
      const size_t colon = e.message.find(": ");
      if (colon != std::string::npos) e.message = e.message.substr(colon + 2);
    }
  }
  return ProblemStatus(p, "POST /v1/events");
}

// Prints receipts as each batch is acknowledged, so that they reach stdout
// even when a later batch fails: -o ndjson a line each, -o table rows under
// one header, -o json one document that Finish closes (on failure too).
class ReceiptPrinter {
 public:
  explicit ReceiptPrinter(const Context& ctx) : ctx_(ctx) {}

  void Batch(const std::vector<std::string>& receipts, const std::string& checkpoint) {
    checkpoint_ = checkpoint;
    switch (ctx_.format()) {
      case Format::kNdjson:
        for (const auto& r : receipts) PrintLine(r);
        break;
      case Format::kJson: {
        std::string out = opened_ ? "" : "{\"results\":[";
        for (const auto& r : receipts) out += (opened_ || &r != &receipts.front() ? "," : "") + r;
        std::fwrite(out.data(), 1, out.size(), stdout);
        break;
      }
      case Format::kTable: {
        Table t({"SEQ", "EVENT_ID", "DUPLICATE"});
        for (const auto& r : receipts) {
          auto v = schema::ParseJson(r);
          const json::object& o = v->as_object();
          const json::value* dup = o.if_contains("duplicate");
          const bool d = dup && dup->is_bool() && dup->as_bool();
          t.AddRow({Num(o, "seq"), Str(o, "event_id"), d ? "yes" : "no"},
                   {Style::kNone, Style::kNone, d ? Style::kYellow : Style::kNone});
        }
        t.Print(ctx_.term(), stdout, !opened_, &widths_);
        break;
      }
    }
    opened_ = true;
    std::fflush(stdout);
  }

  // The checkpoint closes the JSON document: the last acknowledged batch's.
  void Finish() {
    if (ctx_.format() != Format::kJson || !opened_) return;
    std::string out = "],\"checkpoint\":";
    schema::AppendJsonString(checkpoint_, &out);
    out += "}";
    PrintLine(out);
    std::fflush(stdout);
  }

 private:
  const Context& ctx_;
  bool opened_ = false;
  std::string checkpoint_;
  std::vector<size_t> widths_;  // table columns, kept from batch to batch
};

struct SendTally {
  size_t appended = 0, duplicates = 0, requests = 0;
  uint64_t last_checkpoint_size = 0;
};

// POSTs one batch (retrying while custodyd is busy), checks the answer and,
// with `key`, that the receipt's signed checkpoint covers every event of it.
// Appends the receipts to *receipts and sets *checkpoint.
Status SendBatch(Api* api, const SendOptions& opt, const std::vector<InputEvent>& batch,
                 const ledger::VerifierKey* key, SendTally* tally,
                 std::vector<std::string>* receipts, std::string* checkpoint) {
  std::string body;
  for (const InputEvent& e : batch) {
    body += e.text;
    body += '\n';
  }
  Result<HttpResponse> res = Status::Internal("not sent");
  for (unsigned attempt = 0;; ++attempt) {
    res = api->http().Post("/v1/events", body, "application/x-ndjson");
    ++tally->requests;
    // Retrying is safe: (producer, event_id) is idempotent, a repeat
    // returns the original seq marked duplicate.
    const bool busy = res.ok() ? res->status == 503 : res.status().IsUnavailable();
    if (!busy || attempt >= opt.retries) break;
    int wait = 1;
    if (res.ok() && !res->retry_after.empty())
      wait = std::max(1, std::atoi(res->retry_after.c_str()));
    std::fprintf(stderr, "custodyctl: custodyd is busy; retrying in %d s\n", wait);
    std::this_thread::sleep_for(std::chrono::seconds(wait));
  }
  if (!res.ok()) return res.status();
  if (res->status != 200) return BatchFailure(ParseProblem(*res), batch);
  auto v = schema::ParseJson(res->body);
  const json::object* o = v.ok() ? v->if_object() : nullptr;
  const json::value* results = o ? o->if_contains("results") : nullptr;
  if (results == nullptr || !results->is_array()) {
    return Status::Internal("POST /v1/events: the answer has no results");
  }
  uint64_t max_seq = 0;
  for (const json::value& r : results->as_array()) {
    if (!r.is_object()) continue;
    const json::object& ro = r.as_object();
    const json::value* dup = ro.if_contains("duplicate");
    if (dup && dup->is_bool() && dup->as_bool()) {
      ++tally->duplicates;
    } else {
      ++tally->appended;
    }
    if (const json::value* s = ro.if_contains("seq"); s && s->is_int64()) {
      max_seq = std::max<uint64_t>(max_seq, static_cast<uint64_t>(s->as_int64()));
    }
    receipts->push_back(json::serialize(r));
  }
  *checkpoint = Str(*o, "checkpoint");
  if (key == nullptr) return Status::Ok();
  auto cp = ledger::OpenCheckpoint(*checkpoint, *key, key->name);
  if (!cp.ok()) {
    return Status::Corruption("the receipt's checkpoint does not verify: " +
                              cp.status().message());
  }
  if (cp->size <= max_seq) {
    return Status::Corruption("the receipt's checkpoint (size " + std::to_string(cp->size) +
                              ") does not cover seq " + std::to_string(max_seq));
  }
  tally->last_checkpoint_size = cp->size;
  return Status::Ok();
}

// A failure after some batches were committed: say so, since their receipts
// are already printed and the caller may wonder what to send again.
Status AfterCommitted(const Status& st, size_t committed) {
  if (committed == 0) return st;
  return st.Annotate(std::to_string(committed) +
                     " earlier event(s) were committed (their receipts are printed); the rest "
                     "were not. Re-sending the whole input is safe: committed events come back "
                     "marked duplicate");
}

Status RunSend(Context& ctx, const SendOptions& opt) {
  EventSource source(opt.files.empty() ? std::vector<std::string>{"-"} : opt.files);
  std::vector<InputEvent> batch;
  CUSTODY_RETURN_IF_ERROR(source.Fill(opt.batch, &batch));
  if (batch.empty()) return Status::InvalidArgument("no events in the input");
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  std::optional<ledger::VerifierKey> key;
  bool pinned = false;
  if (opt.verify) {
    CUSTODY_ASSIGN_OR_RETURN(key, ctx.VerifierKey(&pinned));
  }

  ReceiptPrinter printer(ctx);
  SendTally tally;
  size_t sent = 0;
  while (!batch.empty()) {
    std::vector<std::string> receipts;
    std::string checkpoint;
    Status st = SendBatch(api, opt, batch, key ? &*key : nullptr, &tally, &receipts, &checkpoint);
    // Receipts the server gave are committed even when --verify then fails.
    if (!receipts.empty()) printer.Batch(receipts, checkpoint);
    if (st.ok()) {
      sent += batch.size();
      batch.clear();
      st = source.Fill(opt.batch, &batch);
    }
    if (!st.ok()) {
      printer.Finish();
      return AfterCommitted(st, tally.appended + tally.duplicates);
    }
  }
  printer.Finish();

  std::string verified;
  if (key) {
    verified = "receipt checkpoint verified (size " + std::to_string(tally.last_checkpoint_size) +
               ", key " + (pinned ? "pinned" : "from the server") + ")";
  }
  std::fprintf(stderr, "sent %zu event(s) in %zu request(s): %zu appended, %zu duplicate(s)%s%s\n",
               sent, tally.requests, tally.appended, tally.duplicates,
               verified.empty() ? "" : "; ", verified.c_str());
  return Status::Ok();
}

}  // namespace

void AddSendCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<SendOptions>();
  CLI::App* cmd = root.add_subcommand(
      "send", "Send access events (NDJSON, a JSON object or an array) and print their receipts");
  cmd->add_option("files", opt->files, "input files; '-' or none reads stdin");
  cmd->add_option("--batch", opt->batch, "events per request (sent as application/x-ndjson)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--retries", opt->retries, "retries while custodyd answers 503 (queue full)")
      ->capture_default_str()
      ->check(NotNegative());
  cmd->add_flag("--verify", opt->verify,
                "verify the receipt's signed checkpoint and that it covers every event");
  cmd->footer(
      "Needs a producer (or admin) token. Each event is acknowledged only after it is durable\n"
      "and covered by a signed checkpoint; retries are safe (event_id is idempotent).\n"
      "NDJSON is read and sent a batch at a time, and each batch's receipts are printed as\n"
      "soon as it is acknowledged; after a failure, those printed were committed.\n\n"
      "Examples:\n"
      "  custodyctl send events.ndjson\n"
      "  producer-tool | custodyctl send --batch 5000 -o ndjson > receipts.ndjson");
  out->push_back({cmd, [&ctx, opt] { return RunSend(ctx, *opt); }});
}

}  // namespace custody::client
