/*
 * uwsgi.c - fuzz the uwsgi codec (gateway/uwsgi.c) through the worker's
 * read path: the packet and its body in chunks the fuzzer chooses,
 * answered through the encoder (codec.h has the input layout).
 */
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_codec_input(&proto_uwsgi, fuzz_handler, data, size);
}
