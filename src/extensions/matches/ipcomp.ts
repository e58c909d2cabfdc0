/**
 * ipcomp match (iptables-extensions: "ipcomp"): [!] --ipcompspi spi[:spi] (XTTYPE_UINT32RC) and --compres (the
 * reserved flags must be zero). libxt_ipcomp has no init: without --ipcompspi the range is 0:0, saved as
 * `--ipcompspi 0`. The kernel match needs `-p ipcomp` (xt_ipcomp .proto = IPPROTO_COMP).
 */
import { spiMatch } from './esp';

export default spiMatch({
  name: 'ipcomp',
  option: 'ipcompspi',
  proto: 108,
  defaultMax: 0,
  listWord: 'comp',
  listBlank: 'always',
  spiBits: 16,
  extraOptions: true,
  help: `comp match options:
[!] --ipcompspi spi[:spi]
				match spi (range)
`,
});
