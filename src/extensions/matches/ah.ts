/**
 * ah match (iptables-extensions: "ah", libipt_ah): [!] --ahspi spi[:spi] (XTTYPE_UINT32RC). The kernel match
 * needs `-p ah` (ipt_ah .proto = IPPROTO_AH). `-L` prints "ah " and the range glued to it (as libipt_ah does).
 */
import { spiMatch } from './esp';

export default spiMatch({
  name: 'ah',
  option: 'ahspi',
  proto: 51,
  defaultMax: 0xffffffff,
  listWord: 'ah',
  listBlank: 'always',
  spiBits: 32,
  help: `ah match options:
[!] --ahspi spi[:spi]
				match spi (range)
`,
});
