import { ClosedError } from '../../errors.js';
import { checkGroup } from '../../internal/leadership-group.js';
import type { Leadership } from '../../transport.js';

interface Member {
  readonly onChange: (leader: boolean) => void;
  leader: boolean;
}

interface Group {
  readonly members: Member[];
  state: Buffer | undefined;
}

/**
 * Leader elections within one process (the memory transport): the member that joined first leads; when it leaves,
 * the next in joining order takes over. Changes are announced later, never inside the caller's stack, as a broker
 * would.
 */
export class MemoryElections {
  readonly #groups = new Map<string, Group>();
  #closed = false;

  async join(group: string, onChange: (leader: boolean) => void): Promise<Leadership> {
    checkGroup(group);
    if (this.#closed) throw new ClosedError('the memory transport');
    let entry = this.#groups.get(group);
    if (!entry) this.#groups.set(group, (entry = { members: [], state: undefined }));
    const { members } = entry;
    const self: Member = { onChange, leader: false };
    members.push(self);
    this.#elect(members);
    const shared = entry;
    return {
      get leader() {
        return self.leader;
      },
      readState: async () => shared.state,
      writeState: async (state) => {
        if (this.#closed) throw new ClosedError('the memory transport');
        shared.state = Buffer.from(state);
      },
      leave: async () => {
        const i = members.indexOf(self);
        if (i < 0) return;
        members.splice(i, 1);
        if (self.leader) {
          self.leader = false;
          setImmediate(() => self.onChange(false));
        }
        this.#elect(members);
      },
    };
  }

  #elect(members: Member[]): void {
    const first = members[0];
    if (!first || first.leader) return;
    first.leader = true;
    setImmediate(() => {
      if (first.leader) first.onChange(true);
    });
  }

  close(): void {
    this.#closed = true;
    for (const { members } of this.#groups.values())
      for (const member of members.splice(0)) {
        if (member.leader) {
          member.leader = false;
          member.onChange(false);
        }
      }
  }
}
