/**
 * The account database of the host the fixtures were recorded on (its /etc/passwd and /etc/group: Debian's
 * base-passwd entries plus a few packages'), as getpwnam/getpwuid/getgrnam/getgrgid answer from it. Like the
 * bundled netdb, it makes name lookups independent of the machine tsiptables runs on.
 */

/** /etc/passwd in file order: [name, uid]. */
export const PASSWD: ReadonlyArray<readonly [string, number]> = [
  ['root', 0],
  ['daemon', 1],
  ['bin', 2],
  ['sys', 3],
  ['sync', 4],
  ['games', 5],
  ['man', 6],
  ['lp', 7],
  ['mail', 8],
  ['news', 9],
  ['uucp', 10],
  ['proxy', 13],
  ['www-data', 33],
  ['backup', 34],
  ['list', 38],
  ['irc', 39],
  ['_apt', 42],
  ['nobody', 65534],
  ['cloudsdk', 1000],
  ['systemd-network', 998],
  ['systemd-timesync', 997],
  ['messagebus', 100],
  ['polkitd', 996],
  ['postgres', 101],
  ['tcpdump', 102],
];

/** /etc/group in file order: [name, gid]. */
export const GROUP: ReadonlyArray<readonly [string, number]> = [
  ['root', 0],
  ['daemon', 1],
  ['bin', 2],
  ['sys', 3],
  ['adm', 4],
  ['tty', 5],
  ['disk', 6],
  ['lp', 7],
  ['mail', 8],
  ['news', 9],
  ['uucp', 10],
  ['man', 12],
  ['proxy', 13],
  ['kmem', 15],
  ['dialout', 20],
  ['fax', 21],
  ['voice', 22],
  ['cdrom', 24],
  ['floppy', 25],
  ['tape', 26],
  ['sudo', 27],
  ['audio', 29],
  ['dip', 30],
  ['www-data', 33],
  ['backup', 34],
  ['operator', 37],
  ['list', 38],
  ['irc', 39],
  ['src', 40],
  ['shadow', 42],
  ['utmp', 43],
  ['video', 44],
  ['sasl', 45],
  ['plugdev', 46],
  ['staff', 50],
  ['games', 60],
  ['users', 100],
  ['nogroup', 65534],
  ['cloudsdk', 1000],
  ['_ssh', 101],
  ['systemd-journal', 999],
  ['systemd-network', 998],
  ['systemd-timesync', 997],
  ['messagebus', 102],
  ['polkitd', 996],
  ['ssl-cert', 103],
  ['postgres', 104],
  ['tcpdump', 105],
];

/** getpwnam()/getgrnam(): the id of an exact name. */
export function idByName(db: ReadonlyArray<readonly [string, number]>, name: string): number | undefined {
  return db.find(([n]) => n === name)?.[1];
}

/** getpwuid()/getgrgid(): the first name with that id. */
export function nameById(db: ReadonlyArray<readonly [string, number]>, id: number): string | undefined {
  return db.find(([, i]) => i === id)?.[0];
}
