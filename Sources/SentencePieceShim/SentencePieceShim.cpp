// SentencePieceShim: the C++ side of the C API in include/SentencePieceShim.h, written against
// SentencePiece 0.1.97's public headers (sentencepiece_processor.h, sentencepiece_trainer.h).
// Each entry point validates its arguments, maps util::Status to spm_status and catches
// every C++ exception, so nothing but status codes and messages reaches Swift.
#include "SentencePieceShim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// Exported by libsentencepiece.so but not declared in its public headers: the threshold
// below which LOG(...) lines are dropped (0 INFO, 1 WARNING, 2 ERROR, 3 FATAL).
namespace sentencepiece {
namespace logging {
void SetMinLogLevel(int v);
}  // namespace logging
}  // namespace sentencepiece

struct spm_processor {
    sentencepiece::SentencePieceProcessor sp;
};

namespace {

void write_error(char *err, size_t err_cap, std::string_view message) {
    if (err == nullptr || err_cap == 0) return;
    const size_t n = message.size() < err_cap - 1 ? message.size() : err_cap - 1;
    std::memcpy(err, message.data(), n);
    err[n] = '\0';
}

void clear_error(char *err, size_t err_cap) {
    if (err != nullptr && err_cap > 0) err[0] = '\0';
}

spm_status from_status(const sentencepiece::util::Status &status, char *err, size_t err_cap) {
    if (status.ok()) return SPM_OK;
    write_error(err, err_cap, status.error_message());
    const int code = static_cast<int>(status.code());
    return (code >= 1 && code <= 16) ? static_cast<spm_status>(code) : SPM_UNKNOWN;
}

// Runs `body` and turns any escaping exception into SPM_EXCEPTION / SPM_OUT_OF_MEMORY.
template <typename Body>
spm_status guarded(char *err, size_t err_cap, Body body) {
    clear_error(err, err_cap);
    try {
        return body();
    } catch (const std::bad_alloc &) {
        write_error(err, err_cap, "out of memory inside SentencePiece");
        return SPM_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        write_error(err, err_cap, std::string("SentencePiece threw: ") + e.what());
        return SPM_EXCEPTION;
    } catch (...) {
        write_error(err, err_cap, "SentencePiece threw an unknown C++ exception");
        return SPM_EXCEPTION;
    }
}

spm_status null_argument(char *err, size_t err_cap, const char *what) {
    write_error(err, err_cap, std::string("required argument is NULL: ") + what);
    return SPM_NULL_ARGUMENT;
}

// Copies `values` into a malloc'd array (at least one element so malloc never gets 0).
template <typename T>
spm_status copy_out(const std::vector<T> &values, T **out, size_t *count, char *err, size_t err_cap) {
    T *buffer = static_cast<T *>(std::malloc((values.empty() ? 1 : values.size()) * sizeof(T)));
    if (buffer == nullptr) {
        write_error(err, err_cap, "malloc failed");
        return SPM_OUT_OF_MEMORY;
    }
    if (!values.empty()) std::memcpy(buffer, values.data(), values.size() * sizeof(T));
    *out = buffer;
    *count = values.size();
    return SPM_OK;
}

spm_status copy_string_out(const std::string &s, char **out, size_t *length, char *err, size_t err_cap) {
    char *buffer = static_cast<char *>(std::malloc(s.size() + 1));
    if (buffer == nullptr) {
        write_error(err, err_cap, "malloc failed");
        return SPM_OUT_OF_MEMORY;
    }
    std::memcpy(buffer, s.data(), s.size());
    buffer[s.size()] = '\0';
    *out = buffer;
    if (length != nullptr) *length = s.size();
    return SPM_OK;
}

// Calls `visit(line)` for every line of `text` ('\n' separated, a trailing '\r' removed).
template <typename Visit>
void for_each_line(std::string_view text, Visit visit) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        visit(line);
        start = end + 1;
    }
}

// Training sentences taken from in-memory buffers, one per non-empty line.
class LineIterator : public sentencepiece::SentenceIterator {
  public:
    explicit LineIterator(const std::vector<std::string_view> &texts) {
        for (const std::string_view text : texts) {
            for_each_line(text, [this](std::string_view line) {
                if (!line.empty()) lines_.push_back(line);
            });
        }
        Load();
    }
    bool done() const override { return index_ >= lines_.size(); }
    void Next() override {
        ++index_;
        Load();
    }
    const std::string &value() const override { return current_; }
    sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

  private:
    void Load() {
        if (index_ < lines_.size()) current_.assign(lines_[index_].data(), lines_[index_].size());
    }
    std::vector<std::string_view> lines_;
    size_t index_ = 0;
    std::string current_;
};

}  // namespace

extern "C" {

spm_status spm_set_min_log_level(int level) {
    try {
        sentencepiece::logging::SetMinLogLevel(level);
        return SPM_OK;
    } catch (...) {
        return SPM_EXCEPTION;
    }
}

spm_status spm_load(const char *path, spm_processor **out, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (path == nullptr) return null_argument(err, err_cap, "path");
        if (out == nullptr) return null_argument(err, err_cap, "out");
        auto handle = std::make_unique<spm_processor>();
        const spm_status status = from_status(handle->sp.Load(path), err, err_cap);
        if (status != SPM_OK) return status;
        *out = handle.release();
        return SPM_OK;
    });
}

spm_status spm_load_from_bytes(const void *bytes, size_t length, spm_processor **out,
                               char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (bytes == nullptr) return null_argument(err, err_cap, "bytes");
        if (out == nullptr) return null_argument(err, err_cap, "out");
        auto handle = std::make_unique<spm_processor>();
        const std::string_view serialized(static_cast<const char *>(bytes), length);
        const spm_status status = from_status(handle->sp.LoadFromSerializedProto(serialized), err, err_cap);
        if (status != SPM_OK) return status;
        *out = handle.release();
        return SPM_OK;
    });
}

void spm_free(spm_processor *processor) { delete processor; }

void spm_free_buffer(void *buffer) { std::free(buffer); }

spm_status spm_vocab_size(const spm_processor *processor, int32_t *out, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (out == nullptr) return null_argument(err, err_cap, "out");
        *out = processor->sp.GetPieceSize();
        return SPM_OK;
    });
}

spm_status spm_special_ids(const spm_processor *processor, int32_t *unk, int32_t *bos,
                           int32_t *eos, int32_t *pad, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (unk != nullptr) *unk = processor->sp.unk_id();
        if (bos != nullptr) *bos = processor->sp.bos_id();
        if (eos != nullptr) *eos = processor->sp.eos_id();
        if (pad != nullptr) *pad = processor->sp.pad_id();
        return SPM_OK;
    });
}

spm_status spm_encode(const spm_processor *processor, const char *text, size_t length,
                      int32_t *ids, size_t capacity, size_t *count, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (text == nullptr && length > 0) return null_argument(err, err_cap, "text");
        if (count == nullptr) return null_argument(err, err_cap, "count");
        std::vector<int> result;
        const spm_status status = from_status(
            processor->sp.Encode(std::string_view(text == nullptr ? "" : text, length), &result), err, err_cap);
        if (status != SPM_OK) return status;
        *count = result.size();
        if (result.size() > capacity) {
            write_error(err, err_cap, "id buffer too small: need " + std::to_string(result.size()) +
                                          ", have " + std::to_string(capacity));
            return SPM_BUFFER_TOO_SMALL;
        }
        if (!result.empty()) {
            if (ids == nullptr) return null_argument(err, err_cap, "ids");
            for (size_t i = 0; i < result.size(); ++i) ids[i] = result[i];
        }
        return SPM_OK;
    });
}

spm_status spm_encode_alloc(const spm_processor *processor, const char *text, size_t length,
                            int32_t **ids, size_t *count, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (text == nullptr && length > 0) return null_argument(err, err_cap, "text");
        if (ids == nullptr || count == nullptr) return null_argument(err, err_cap, "ids/count");
        std::vector<int> result;
        const spm_status status = from_status(
            processor->sp.Encode(std::string_view(text == nullptr ? "" : text, length), &result), err, err_cap);
        if (status != SPM_OK) return status;
        std::vector<int32_t> out(result.begin(), result.end());
        return copy_out(out, ids, count, err, err_cap);
    });
}

spm_status spm_encode_lines(const spm_processor *processor, const char *text, size_t length,
                            int32_t separator_id, int32_t **ids, size_t *count,
                            char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (text == nullptr && length > 0) return null_argument(err, err_cap, "text");
        if (ids == nullptr || count == nullptr) return null_argument(err, err_cap, "ids/count");
        std::vector<int32_t> out;
        out.reserve(length / 3 + 16);  // about 4 bytes per token on English text
        std::vector<int> line_ids;
        spm_status status = SPM_OK;
        bool first = true;
        for_each_line(std::string_view(text == nullptr ? "" : text, length), [&](std::string_view line) {
            if (status != SPM_OK || line.empty()) return;
            line_ids.clear();
            status = from_status(processor->sp.Encode(line, &line_ids), err, err_cap);
            if (status != SPM_OK) return;
            if (!first && separator_id >= 0) out.push_back(separator_id);
            out.insert(out.end(), line_ids.begin(), line_ids.end());
            first = false;
        });
        if (status != SPM_OK) return status;
        return copy_out(out, ids, count, err, err_cap);
    });
}

spm_status spm_decode(const spm_processor *processor, const int32_t *ids, size_t count,
                      char **text, size_t *length, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (ids == nullptr && count > 0) return null_argument(err, err_cap, "ids");
        if (text == nullptr) return null_argument(err, err_cap, "text");
        const int32_t size = processor->sp.GetPieceSize();
        std::vector<int> input(count);
        for (size_t i = 0; i < count; ++i) {
            if (ids[i] < 0 || ids[i] >= size) {
                write_error(err, err_cap, "id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                                              " is outside the vocabulary 0..<" + std::to_string(size));
                return SPM_OUT_OF_RANGE;
            }
            input[i] = ids[i];
        }
        std::string result;
        const spm_status status = from_status(processor->sp.Decode(input, &result), err, err_cap);
        if (status != SPM_OK) return status;
        return copy_string_out(result, text, length, err, err_cap);
    });
}

spm_status spm_id_to_piece(const spm_processor *processor, int32_t id, char **piece,
                           size_t *length, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (piece == nullptr) return null_argument(err, err_cap, "piece");
        const int32_t size = processor->sp.GetPieceSize();
        if (id < 0 || id >= size) {
            write_error(err, err_cap, "id " + std::to_string(id) + " is outside the vocabulary 0..<" +
                                          std::to_string(size));
            return SPM_OUT_OF_RANGE;
        }
        return copy_string_out(processor->sp.IdToPiece(id), piece, length, err, err_cap);
    });
}

spm_status spm_piece_to_id(const spm_processor *processor, const char *piece, size_t length,
                           int32_t *id, int32_t *known, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (processor == nullptr) return null_argument(err, err_cap, "processor");
        if (piece == nullptr && length > 0) return null_argument(err, err_cap, "piece");
        if (id == nullptr) return null_argument(err, err_cap, "id");
        const std::string_view text(piece == nullptr ? "" : piece, length);
        const int result = processor->sp.PieceToId(text);
        *id = result;
        if (known != nullptr) {
            // PieceToId answers unk_id for unknown pieces; the unk piece itself is known.
            *known = (result != processor->sp.unk_id() || processor->sp.IdToPiece(result) == text) ? 1 : 0;
        }
        return SPM_OK;
    });
}

spm_status spm_train_flags(const char *flags, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (flags == nullptr) return null_argument(err, err_cap, "flags");
        return from_status(sentencepiece::SentencePieceTrainer::Train(std::string_view(flags)), err, err_cap);
    });
}

spm_status spm_train(const char *const *keys, const char *const *values, size_t option_count,
                     const char *const *texts, const size_t *text_lengths, size_t text_count,
                     void **model_bytes, size_t *model_length, char *err, size_t err_cap) {
    return guarded(err, err_cap, [&]() -> spm_status {
        if (option_count > 0 && (keys == nullptr || values == nullptr)) return null_argument(err, err_cap, "keys/values");
        if (model_bytes != nullptr && model_length == nullptr) return null_argument(err, err_cap, "model_length");
        std::unordered_map<std::string, std::string> kwargs;
        for (size_t i = 0; i < option_count; ++i) {
            if (keys[i] == nullptr || values[i] == nullptr) return null_argument(err, err_cap, "option key/value");
            kwargs[keys[i]] = values[i];
        }
        if (text_count > 0 && (texts == nullptr || text_lengths == nullptr)) return null_argument(err, err_cap, "texts");
        std::unique_ptr<LineIterator> lines;
        if (text_count > 0) {
            std::vector<std::string_view> views;
            for (size_t i = 0; i < text_count; ++i) {
                if (texts[i] == nullptr && text_lengths[i] > 0) return null_argument(err, err_cap, "texts[i]");
                views.emplace_back(texts[i] == nullptr ? "" : texts[i], text_lengths[i]);
            }
            lines = std::make_unique<LineIterator>(views);
        }
        std::string serialized;
        const spm_status status = from_status(
            sentencepiece::SentencePieceTrainer::Train(kwargs, lines.get(), model_bytes != nullptr ? &serialized : nullptr),
            err, err_cap);
        if (status != SPM_OK) return status;
        if (model_bytes != nullptr) {
            std::vector<char> bytes(serialized.begin(), serialized.end());
            char *out = nullptr;
            const spm_status copied = copy_out(bytes, &out, model_length, err, err_cap);
            if (copied != SPM_OK) return copied;
            *model_bytes = out;
        }
        return SPM_OK;
    });
}

}  // extern "C"
