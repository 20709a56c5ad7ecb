-- Each call's path through svar (IVR menus, keys, prompts, where it went), one step per
-- line as "+<ms since the call began> <step>", for the console and statistics.
ALTER TABLE call_records ADD COLUMN flow TEXT;
