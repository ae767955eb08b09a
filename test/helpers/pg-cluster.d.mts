export interface Cluster {
  /** A URL for `database` on the cluster (as the superuser, no password: trust on loopback). */
  url(database: string): string;
  /** The postmaster's pid (its children are the backends). */
  pid(): number;
  stop(): void;
}
/** The newest /usr/lib/postgresql/<version>/bin with an initdb, if any. */
export function postgresBinaries(): string | undefined;
export function startCluster(bin: string): Promise<Cluster>;
