throw new Error('`prisma dev` is not available in t2v-bot: @prisma/streams-local is replaced by a stub (see its package.json).');
