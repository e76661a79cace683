// The public headers of libsecp256k1 that zgproxy uses. The recovery module is
// required: Ethereum signatures carry a recovery id and `ecrecover` needs it.
#include <secp256k1.h>
#include <secp256k1_recovery.h>
