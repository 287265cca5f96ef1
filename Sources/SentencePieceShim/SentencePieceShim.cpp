#include "SentencePieceShim.h"
