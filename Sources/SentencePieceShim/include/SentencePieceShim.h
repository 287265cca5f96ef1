// SentencePieceShim: a C API over libsentencepiece (filled in by the data layer).
#pragma once
