// SentencePieceShim: a plain C API over Google's SentencePiece C++ library (0.1.97, Debian's
// libsentencepiece), so Swift can load, encode, decode and train tokenizers without C++ interop.
// Conventions: every call returns an spm_status (0 = success) and writes a NUL-terminated
// message into the caller's `err` buffer on failure; no C++ exception crosses this boundary.
#ifndef SENTENCEPIECE_SHIM_H
#define SENTENCEPIECE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes. 1...16 are SentencePiece's own util::StatusCode values (absl-style);
/// the shim adds its own from 100 on.
typedef enum spm_status {
    SPM_OK = 0,
    SPM_CANCELLED = 1,
    SPM_UNKNOWN = 2,
    SPM_INVALID_ARGUMENT = 3,
    SPM_DEADLINE_EXCEEDED = 4,
    SPM_NOT_FOUND = 5,
    SPM_ALREADY_EXISTS = 6,
    SPM_PERMISSION_DENIED = 7,
    SPM_RESOURCE_EXHAUSTED = 8,
    SPM_FAILED_PRECONDITION = 9,
    SPM_ABORTED = 10,
    SPM_OUT_OF_RANGE = 11,
    SPM_UNIMPLEMENTED = 12,
    SPM_INTERNAL = 13,
    SPM_UNAVAILABLE = 14,
    SPM_DATA_LOSS = 15,
    SPM_UNAUTHENTICATED = 16,
    /// A NULL handle or pointer where one is required.
    SPM_NULL_ARGUMENT = 100,
    /// The caller's buffer is too small; the needed element count was written to *count.
    SPM_BUFFER_TOO_SMALL = 101,
    /// A C++ exception (std::bad_alloc included) was caught at the boundary.
    SPM_EXCEPTION = 102,
    /// malloc failed.
    SPM_OUT_OF_MEMORY = 103
} spm_status;

/// An opaque, loaded SentencePiece model (a sentencepiece::SentencePieceProcessor).
/// After loading it is only read: encode/decode/lookup calls on one handle may run
/// concurrently from several threads (the processor's Encode/Decode are const and keep no
/// per-call state in the object).
typedef struct spm_processor spm_processor;

/// Sets SentencePiece's global log threshold: 0 = INFO (library default), 1 = WARNING,
/// 2 = ERROR, 3 = FATAL only. All SentencePiece logging goes to stderr.
spm_status spm_set_min_log_level(int level);

/// Loads a `.model` file. On success *out owns a new handle (free with spm_free).
spm_status spm_load(const char *path, spm_processor **out, char *err, size_t err_cap);

/// Loads a model from its serialized ModelProto bytes (the content of a `.model` file).
spm_status spm_load_from_bytes(const void *bytes, size_t length, spm_processor **out,
                               char *err, size_t err_cap);

/// Frees a handle from spm_load*. NULL is allowed.
void spm_free(spm_processor *processor);

/// Frees a buffer returned by this API (ids, text, pieces, model bytes). NULL is allowed.
void spm_free_buffer(void *buffer);

/// Number of pieces in the vocabulary.
spm_status spm_vocab_size(const spm_processor *processor, int32_t *out, char *err, size_t err_cap);

/// The special ids; a disabled one is -1 (SentencePiece's convention).
spm_status spm_special_ids(const spm_processor *processor, int32_t *unk, int32_t *bos,
                           int32_t *eos, int32_t *pad, char *err, size_t err_cap);

/// Encodes `length` bytes of UTF-8 as one SentencePiece "sentence" into the caller's buffer
/// of `capacity` ids. *count receives the number of ids; when it exceeds `capacity` the call
/// returns SPM_BUFFER_TOO_SMALL and nothing useful is in `ids`.
spm_status spm_encode(const spm_processor *processor, const char *text, size_t length,
                      int32_t *ids, size_t capacity, size_t *count, char *err, size_t err_cap);

/// Encodes like spm_encode into a malloc'd array (*ids, free with spm_free_buffer).
spm_status spm_encode_alloc(const spm_processor *processor, const char *text, size_t length,
                            int32_t **ids, size_t *count, char *err, size_t err_cap);

/// Encodes text line by line, exactly as `spm_encode` (the CLI) does: each line ('\n'
/// terminated, a trailing '\r' dropped) is one sentence. Empty lines give no ids. When
/// `separator_id` >= 0 it is written between consecutive non-empty lines. Result is malloc'd.
spm_status spm_encode_lines(const spm_processor *processor, const char *text, size_t length,
                            int32_t separator_id, int32_t **ids, size_t *count,
                            char *err, size_t err_cap);

/// Decodes ids to UTF-8 into a malloc'd, NUL-terminated buffer (*text, *length without NUL).
spm_status spm_decode(const spm_processor *processor, const int32_t *ids, size_t count,
                      char **text, size_t *length, char *err, size_t err_cap);

/// The piece string of `id` (malloc'd, NUL-terminated). Out-of-range ids → SPM_OUT_OF_RANGE.
spm_status spm_id_to_piece(const spm_processor *processor, int32_t id, char **piece,
                           size_t *length, char *err, size_t err_cap);

/// The id of `piece`; a piece not in the vocabulary gives the unk id and *known = 0.
spm_status spm_piece_to_id(const spm_processor *processor, const char *piece, size_t length,
                           int32_t *id, int32_t *known, char *err, size_t err_cap);

/// Trains a model from a command-line style flag string, as `spm_train` takes it, e.g.
/// "--input=a.txt --model_prefix=m --vocab_size=4096 --model_type=bpe". Writes m.model/m.vocab.
spm_status spm_train_flags(const char *flags, char *err, size_t err_cap);

/// Trains a model from explicit option names and values (SentencePiece's TrainerSpec and
/// NormalizerSpec field names, e.g. "vocab_size" → "4096"). Values are never split on
/// spaces, so paths may contain them. When `text_count` > 0 the training sentences are the
/// non-empty lines of the buffers texts[i] (text_lengths[i] bytes each, read in order; no
/// "input" option needed). When `model_bytes` is non-NULL the trained model is returned
/// there (malloc'd) instead of being written to "model_prefix".model/.vocab.
spm_status spm_train(const char *const *keys, const char *const *values, size_t option_count,
                     const char *const *texts, const size_t *text_lengths, size_t text_count,
                     void **model_bytes, size_t *model_length, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif
