import type { User } from '../store/users.ts';

/** The accounts API's profile (document 000). */
export const accountsProfile = (user: User) => ({
  email: user.email,
  gender: user.gender,
  preferences: user.preferences,
  dob: user.dob,
  superhero_name: user.superheroName,
});

/**
 * The kitchen API's profile (document 002); `date_of_birth` is the same stored value as `dob`;
 * `pictureUrl` turns a stored picture into the URL clients load it from.
 */
export const kitchenProfile = (user: User, pictureUrl: (stored: string | null) => string | null) => ({
  email: user.email,
  name: user.name,
  date_of_birth: user.dob,
  is_superuser: user.isSuperuser,
  is_staff: user.isStaff,
  is_active: user.isActive,
  profile_picture: pictureUrl(user.profilePicture),
  bio: user.bio,
  phone_number: user.phoneNumber,
});
