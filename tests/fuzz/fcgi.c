/*
 * fcgi.c - fuzz the FastCGI responder (gateway/fcgi.c) through the
 * worker's read path: records in chunks the fuzzer chooses, any number
 * of requests on one connection, each answered through the encoder
 * (codec.h has the input layout).
 */
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_codec_input(&proto_fcgi, fuzz_handler, data, size);
}
